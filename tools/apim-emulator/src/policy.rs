//! APIM policy documents: parsed with a real XML parser (`roxmltree`) into typed policies.
//!
//! The emulator implements exactly the elements and attributes the project's policy files
//! use, and **refuses to start** on anything else, naming the file, line, column and
//! element: nothing is silently ignored, so what passes here is what APIM is asked to run.
//! Named values (`{{name}}`) are substituted in attribute values and text, and an unknown
//! name is an error (as APIM refuses to save such a policy). Policy expressions (`@(...)`,
//! `@{...}`) are not implemented and are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use roxmltree::{Document, Node};

/// The four sections of a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Inbound,
    Backend,
    Outbound,
    OnError,
}

impl Section {
    fn from_tag(tag: &str) -> Option<Section> {
        match tag {
            "inbound" => Some(Section::Inbound),
            "backend" => Some(Section::Backend),
            "outbound" => Some(Section::Outbound),
            "on-error" => Some(Section::OnError),
            _ => None,
        }
    }
}

/// What `exists-action` says to do with a header or query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistsAction {
    Override,
    Skip,
    Append,
    Delete,
}

/// `<cors>`.
#[derive(Debug, Clone)]
pub struct Cors {
    pub allow_credentials: bool,
    /// `*` or exact origins.
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub preflight_max_age: Option<u64>,
    /// `*` or header names (compared case-insensitively).
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
}

/// One implemented policy.
#[derive(Debug, Clone)]
pub enum Policy {
    /// `<base />`: the enclosing scope's policies (the emulator has no global scope: none).
    Base,
    Cors(Cors),
    /// `<rate-limit calls renewal-period>`: per subscription, fixed window.
    RateLimit {
        calls: u64,
        renewal_period: Duration,
    },
    SetHeader {
        name: http::HeaderName,
        action: ExistsAction,
        values: Vec<http::HeaderValue>,
    },
    SetQueryParameter {
        name: String,
        action: ExistsAction,
        values: Vec<String>,
    },
    /// `<set-backend-service backend-id>`: one of the declared backend entities.
    SetBackendService {
        backend_id: String,
    },
    /// `<cache-lookup>`.
    /// Downstream caching is `public`: the backend's `Cache-Control` is passed on.
    CacheLookup {
        vary_by_headers: Vec<http::HeaderName>,
        vary_by_query: Vec<String>,
    },
    /// `<cache-store duration>`.
    CacheStore {
        duration: Duration,
    },
    /// `<forward-request timeout>`.
    ForwardRequest {
        timeout: Duration,
    },
}

/// A parsed policy file.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub file: PathBuf,
    pub inbound: Vec<Policy>,
    pub backend: Vec<Policy>,
    pub outbound: Vec<Policy>,
    pub on_error: Vec<Policy>,
}

/// Elements and where they may appear, for the error message.
const SUPPORTED: &str =
    "base, cors, rate-limit, set-header, set-query-parameter, set-backend-service, \
                         cache-lookup, cache-store, forward-request";

/// Read and parse a policy file.
pub fn load(
    path: &Path,
    named: &BTreeMap<String, String>,
    backend_ids: &[&str],
) -> Result<PolicyDocument> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(path, &text, named, backend_ids)
}

/// Parse policy XML text (see [`load`]).
pub fn parse(
    path: &Path,
    text: &str,
    named: &BTreeMap<String, String>,
    backend_ids: &[&str],
) -> Result<PolicyDocument> {
    let doc = Document::parse(text)
        .map_err(|e| anyhow!("{}: not well-formed XML: {e}", path.display()))?;
    let cx = Cx {
        path,
        doc: &doc,
        named,
        backend_ids,
    };
    let root = doc.root_element();
    if root.tag_name().name() != "policies" {
        return Err(cx.err(root, "the root element must be <policies>"));
    }
    cx.attrs(root, &[])?;
    let mut out = PolicyDocument {
        file: path.to_owned(),
        inbound: Vec::new(),
        backend: Vec::new(),
        outbound: Vec::new(),
        on_error: Vec::new(),
    };
    let mut seen = Vec::new();
    for section_node in cx.children(root)? {
        let tag = section_node.tag_name().name();
        let section = Section::from_tag(tag).ok_or_else(|| {
            cx.err(
                section_node,
                "is not a policy section (inbound, backend, outbound, on-error)",
            )
        })?;
        if seen.contains(&section) {
            return Err(cx.err(section_node, "appears twice"));
        }
        seen.push(section);
        cx.attrs(section_node, &[])?;
        let mut policies = Vec::new();
        for node in cx.children(section_node)? {
            policies.push(cx.policy(node, section)?);
        }
        match section {
            Section::Inbound => out.inbound = policies,
            Section::Backend => out.backend = policies,
            Section::Outbound => out.outbound = policies,
            Section::OnError => out.on_error = policies,
        }
    }
    Ok(out)
}

/// Replace `{{name}}` references with named values; unknown names are an error.
pub fn substitute(text: &str, named: &BTreeMap<String, String>) -> Result<String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("@(") || trimmed.starts_with("@{") {
        bail!("policy expressions (@(...), @{{...}}) are not implemented by apim-emulator");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| anyhow!("unclosed {{{{ in {text:?}"))?;
        let name = &after[..end];
        let value = named
            .get(name)
            .ok_or_else(|| anyhow!("unknown named value {{{{{name}}}}}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Cx<'a, 'input> {
    path: &'a Path,
    doc: &'a Document<'input>,
    named: &'a BTreeMap<String, String>,
    backend_ids: &'a [&'a str],
}

impl Cx<'_, '_> {
    fn err(&self, node: Node, message: &str) -> anyhow::Error {
        let pos = self.doc.text_pos_at(node.range().start);
        let element = if node.is_element() {
            format!(" <{}>", node.tag_name().name())
        } else {
            String::new()
        };
        anyhow!(
            "{}:{}:{}:{element} {message}",
            self.path.display(),
            pos.row,
            pos.col
        )
    }

    /// Element children; text other than whitespace is an error, comments are skipped.
    fn children<'n, 'i>(&self, node: Node<'n, 'i>) -> Result<Vec<Node<'n, 'i>>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                out.push(child);
            } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
                return Err(self.err(node, "unexpected text content"));
            }
        }
        Ok(out)
    }

    /// Refuse attributes outside `allowed`.
    fn attrs(&self, node: Node, allowed: &[&str]) -> Result<()> {
        for attr in node.attributes() {
            if !allowed.contains(&attr.name()) || attr.namespace().is_some() {
                return Err(self.err(
                    node,
                    &format!("attribute `{}` is not implemented by apim-emulator (implemented: {allowed:?})", attr.name()),
                ));
            }
        }
        Ok(())
    }

    fn attr(&self, node: Node, name: &str) -> Result<Option<String>> {
        node.attribute(name)
            .map(|v| {
                substitute(v, self.named)
                    .map_err(|e| self.err(node, &format!("attribute `{name}`: {e}")))
            })
            .transpose()
    }

    fn required(&self, node: Node, name: &str) -> Result<String> {
        self.attr(node, name)?
            .ok_or_else(|| self.err(node, &format!("attribute `{name}` is required")))
    }

    fn number(&self, node: Node, name: &str) -> Result<Option<u64>> {
        self.attr(node, name)?
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    self.err(node, &format!("`{name}` must be a whole number, got {v:?}"))
                })
            })
            .transpose()
    }

    fn boolean(&self, node: Node, name: &str, default: bool) -> Result<bool> {
        match self.attr(node, name)?.as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(self.err(
                node,
                &format!("`{name}` must be true or false, got {other:?}"),
            )),
        }
    }

    fn text(&self, node: Node) -> Result<String> {
        if let Some(child) = node.children().find(|c| c.is_element()) {
            return Err(self.err(child, "no child elements expected"));
        }
        let raw: String = node.children().filter_map(|c| c.text()).collect();
        substitute(raw.trim(), self.named).map_err(|e| self.err(node, &e.to_string()))
    }

    /// Children that must all be `<tag>` elements with text; returns their texts.
    fn texts(&self, node: Node, tag: &str) -> Result<Vec<String>> {
        self.children(node)?
            .into_iter()
            .map(|child| {
                if child.tag_name().name() != tag {
                    return Err(self.err(child, &format!("only <{tag}> is implemented here")));
                }
                self.attrs(child, &[])?;
                self.text(child)
            })
            .collect()
    }

    fn exists_action(&self, node: Node) -> Result<ExistsAction> {
        match self
            .attr(node, "exists-action")?
            .as_deref()
            .unwrap_or("override")
        {
            "override" => Ok(ExistsAction::Override),
            "skip" => Ok(ExistsAction::Skip),
            "append" => Ok(ExistsAction::Append),
            "delete" => Ok(ExistsAction::Delete),
            other => Err(self.err(
                node,
                &format!("exists-action {other:?} is not override, skip, append or delete"),
            )),
        }
    }

    fn allowed_in(&self, node: Node, section: Section, sections: &[Section]) -> Result<()> {
        if sections.contains(&section) {
            Ok(())
        } else {
            Err(self.err(
                node,
                &format!("is not allowed in the {section:?} section (allowed: {sections:?})"),
            ))
        }
    }

    fn policy(&self, node: Node, section: Section) -> Result<Policy> {
        use Section::*;
        let tag = node.tag_name().name();
        match tag {
            "base" => {
                self.attrs(node, &[])?;
                self.children(node)?
                    .first()
                    .map_or(Ok(()), |c| Err(self.err(*c, "<base> has no children")))?;
                Ok(Policy::Base)
            }
            "cors" => {
                self.allowed_in(node, section, &[Inbound])?;
                self.attrs(node, &["allow-credentials", "terminate-unmatched-request"])?;
                // Unmatched preflights get an empty 200 (APIM's default, `true`); passing
                // them on to the backend (`false`) is not implemented.
                if !self.boolean(node, "terminate-unmatched-request", true)? {
                    return Err(self.err(
                        node,
                        "terminate-unmatched-request=\"false\" is not implemented",
                    ));
                }
                let mut cors = Cors {
                    allow_credentials: self.boolean(node, "allow-credentials", false)?,
                    origins: Vec::new(),
                    methods: Vec::new(),
                    preflight_max_age: None,
                    allowed_headers: Vec::new(),
                    expose_headers: Vec::new(),
                };
                for child in self.children(node)? {
                    match child.tag_name().name() {
                        "allowed-origins" => {
                            self.attrs(child, &[])?;
                            cors.origins = self.texts(child, "origin")?;
                        }
                        "allowed-methods" => {
                            self.attrs(child, &["preflight-result-max-age"])?;
                            cors.preflight_max_age =
                                self.number(child, "preflight-result-max-age")?;
                            cors.methods = self.texts(child, "method")?;
                        }
                        "allowed-headers" => {
                            self.attrs(child, &[])?;
                            cors.allowed_headers = self.texts(child, "header")?;
                        }
                        "expose-headers" => {
                            self.attrs(child, &[])?;
                            cors.expose_headers = self.texts(child, "header")?;
                        }
                        _ => return Err(self.err(child, "is not implemented inside <cors>")),
                    }
                }
                if cors.origins.is_empty() {
                    return Err(self.err(
                        node,
                        "<allowed-origins> with at least one <origin> is required",
                    ));
                }
                if cors.allow_credentials && cors.origins.iter().any(|o| o == "*") {
                    return Err(self.err(
                        node,
                        "allow-credentials=\"true\" cannot be combined with origin *",
                    ));
                }
                Ok(Policy::Cors(cors))
            }
            "rate-limit" => {
                self.allowed_in(node, section, &[Inbound])?;
                self.attrs(node, &["calls", "renewal-period"])?;
                let calls = self
                    .number(node, "calls")?
                    .ok_or_else(|| self.err(node, "attribute `calls` is required"))?;
                let period = self
                    .number(node, "renewal-period")?
                    .ok_or_else(|| self.err(node, "attribute `renewal-period` is required"))?;
                if calls == 0 || period == 0 {
                    return Err(self.err(node, "calls and renewal-period must be positive"));
                }
                self.children(node)?.first().map_or(Ok(()), |c| {
                    Err(self.err(
                        *c,
                        "per-API/operation limits inside <rate-limit> are not implemented",
                    ))
                })?;
                Ok(Policy::RateLimit {
                    calls,
                    renewal_period: Duration::from_secs(period),
                })
            }
            "set-header" => {
                self.allowed_in(node, section, &[Inbound, Outbound, Backend, OnError])?;
                self.attrs(node, &["name", "exists-action"])?;
                let name = self.required(node, "name")?;
                let name = name
                    .parse()
                    .map_err(|_| self.err(node, &format!("invalid header name {name:?}")))?;
                let action = self.exists_action(node)?;
                let values = self
                    .texts(node, "value")?
                    .into_iter()
                    .map(|v| {
                        v.parse()
                            .map_err(|_| self.err(node, "invalid header value"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                if action != ExistsAction::Delete && values.is_empty() {
                    return Err(self.err(
                        node,
                        "at least one <value> is required unless exists-action=\"delete\"",
                    ));
                }
                Ok(Policy::SetHeader {
                    name,
                    action,
                    values,
                })
            }
            "set-query-parameter" => {
                self.allowed_in(node, section, &[Inbound, Backend])?;
                self.attrs(node, &["name", "exists-action"])?;
                let name = self.required(node, "name")?;
                let action = self.exists_action(node)?;
                let values = self.texts(node, "value")?;
                if action != ExistsAction::Delete && values.is_empty() {
                    return Err(self.err(
                        node,
                        "at least one <value> is required unless exists-action=\"delete\"",
                    ));
                }
                Ok(Policy::SetQueryParameter {
                    name,
                    action,
                    values,
                })
            }
            "set-backend-service" => {
                self.allowed_in(node, section, &[Inbound, Backend])?;
                self.attrs(node, &["backend-id"])?;
                let id = self.required(node, "backend-id")?;
                if !self.backend_ids.contains(&id.as_str()) {
                    return Err(self.err(
                        node,
                        &format!(
                            "backend-id {id:?} is not a declared backend (declared: {:?})",
                            self.backend_ids
                        ),
                    ));
                }
                Ok(Policy::SetBackendService { backend_id: id })
            }
            "cache-lookup" => {
                self.allowed_in(node, section, &[Inbound])?;
                self.attrs(
                    node,
                    &[
                        "vary-by-developer",
                        "vary-by-developer-groups",
                        "downstream-caching-type",
                    ],
                )?;
                // The public API has no subscriptions, so varying by developer cannot apply.
                for required in ["vary-by-developer", "vary-by-developer-groups"] {
                    if self.boolean(node, required, false)? || self.attr(node, required)?.is_none()
                    {
                        return Err(self.err(
                            node,
                            &format!("`{required}` is required and only \"false\" is implemented"),
                        ));
                    }
                }
                match self.attr(node, "downstream-caching-type")?.as_deref() {
                    Some("public") => {}
                    other => {
                        return Err(self.err(
                            node,
                            &format!(
                                "downstream-caching-type {other:?}: only \"public\" is implemented"
                            ),
                        ))
                    }
                }
                let (mut vary_by_headers, mut vary_by_query) = (Vec::new(), Vec::new());
                for child in self.children(node)? {
                    self.attrs(child, &[])?;
                    match child.tag_name().name() {
                        "vary-by-header" => vary_by_headers.push(
                            self.text(child)?
                                .parse()
                                .map_err(|_| self.err(child, "invalid header name"))?,
                        ),
                        "vary-by-query-parameter" => vary_by_query.push(self.text(child)?),
                        _ => {
                            return Err(self.err(child, "is not implemented inside <cache-lookup>"))
                        }
                    }
                }
                Ok(Policy::CacheLookup {
                    vary_by_headers,
                    vary_by_query,
                })
            }
            "cache-store" => {
                self.allowed_in(node, section, &[Outbound])?;
                self.attrs(node, &["duration"])?;
                let seconds = self
                    .number(node, "duration")?
                    .ok_or_else(|| self.err(node, "attribute `duration` is required"))?;
                Ok(Policy::CacheStore {
                    duration: Duration::from_secs(seconds),
                })
            }
            "forward-request" => {
                self.allowed_in(node, section, &[Backend])?;
                self.attrs(node, &["timeout"])?;
                let seconds = self.number(node, "timeout")?.unwrap_or(300);
                if seconds == 0 || seconds > 240 {
                    return Err(self.err(node, "timeout must be 1 to 240 seconds"));
                }
                Ok(Policy::ForwardRequest {
                    timeout: Duration::from_secs(seconds),
                })
            }
            _ => Err(self.err(
                node,
                &format!("is not implemented by apim-emulator (implemented: {SUPPORTED})"),
            )),
        }
    }
}
