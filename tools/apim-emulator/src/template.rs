//! APIM operation URL templates: literal segments, `{name}` (one segment) and a final
//! `{*name}` (the rest of the path, one or more segments).

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
    Rest,
}

/// A parsed template such as `/docs/{*asset}`.
#[derive(Debug, Clone)]
pub struct UrlTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl UrlTemplate {
    pub fn parse(text: &str) -> Result<UrlTemplate> {
        let Some(rest) = text.strip_prefix('/') else {
            bail!("URL template must start with '/'");
        };
        if text.contains('?') {
            bail!("query templates are not implemented");
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = rest.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => {
                    if i + 1 != parts.len() {
                        bail!("{{*{}}} must be the last segment", &name[1..]);
                    }
                    Segment::Rest
                }
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => Segment::Param,
                Some(_) => bail!("bad template parameter in {text}"),
                None if part.contains(['{', '}']) => {
                    bail!("partial-segment parameters are not implemented: {text}")
                }
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        Ok(UrlTemplate {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` (starting with `/`, relative to the API) matches. As in APIM, one
    /// trailing slash makes no difference (`/docs/` matches `/docs`).
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let rest = if self.segments.last() == Some(&Segment::Rest) {
            rest
        } else {
            rest.strip_suffix('/').unwrap_or(rest)
        };
        let mut parts = rest.split('/');
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
                Segment::Param => match parts.next() {
                    Some(part) if !part.is_empty() => {}
                    _ => return false,
                },
                Segment::Rest => {
                    let remainder: Vec<&str> = parts.by_ref().collect();
                    return !remainder.is_empty() && !remainder.concat().is_empty();
                }
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_param_and_rest() {
        let docs = UrlTemplate::parse("/docs").unwrap();
        assert!(docs.matches("/docs"));
        assert!(docs.matches("/docs/"), "APIM ignores one trailing slash");
        assert!(!docs.matches("/docs//"));
        assert!(!docs.matches("/docsx"));
        let asset = UrlTemplate::parse("/docs/{*asset}").unwrap();
        assert!(asset.matches("/docs/swagger-ui.css"));
        assert!(asset.matches("/docs/a/b"));
        assert!(!asset.matches("/docs/"));
        assert!(!asset.matches("/docs"));
        let one = UrlTemplate::parse("/users/{id}").unwrap();
        assert!(one.matches("/users/7"));
        assert!(!one.matches("/users/7/x"));
        assert!(!one.matches("/users/"));
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["docs", "/a/{*rest}/b", "/a/x{id}", "/a?b={c}", "/{}"] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
