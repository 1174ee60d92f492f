//! The request as the router sees it, built from what a host hands over: a method, the
//! path and query, and the header list with repeats kept in order.
//!
//! Kept apart from the Spin entry point so the conversion runs, and is fuzzed, natively
//! (`fuzz/fuzz_targets/request.rs`); the entry point only names the method and lists the
//! headers. Not a parser: the host has already parsed the request line and headers.

/// `http` request parts, or `None` when `http` cannot represent what the host handed
/// over (a conforming host never hands over such a method, target or header). A missing
/// path is `/`. Every header is kept, repeats included, so that a duplicated credential
/// is seen (spin-sdk's own conversion folds repeats into one).
pub fn parts<'a>(
    method: &str,
    path_with_query: Option<&str>,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<http::request::Parts> {
    let method = http::Method::from_bytes(method.as_bytes()).ok()?;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path_with_query.unwrap_or("/"));
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_kept_and_a_missing_path_is_the_root() {
        let parts = parts(
            "GET",
            None,
            [
                ("x-backend-key", &b"a"[..]),
                ("X-Backend-Key", &b"b"[..]),
                ("accept", &b"*/*"[..]),
            ],
        )
        .unwrap();
        assert_eq!(parts.method, http::Method::GET);
        assert_eq!(parts.uri, "/");
        let keys: Vec<_> = parts.headers.get_all("x-backend-key").iter().collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn what_http_cannot_represent_is_none() {
        assert!(parts("G ET", Some("/"), []).is_none());
        assert!(parts("GET", Some("no slash"), []).is_none());
        assert!(parts("GET", Some("/"), [("bad name", &b"v"[..])]).is_none());
        assert!(parts("GET", Some("/"), [("x", &b"a\nb"[..])]).is_none());
        assert_eq!(
            parts("BREW", Some("/x?y"), []).unwrap().method.as_str(),
            "BREW"
        );
    }
}
