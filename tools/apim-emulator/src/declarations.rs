//! The gateway's declarations, read from the same files `infra/` deploys with Bicep
//! (`loadJsonContent` / `loadTextContent`): the APIs and their operations, the backend
//! entities with their credentials headers, and the named values.
//!
//! Each API's policy picks its backend entity with `set-backend-service backend-id`, so the
//! public docs API and the protected API inject different credentials (least privilege:
//! the docs credential unlocks only the docs routes in the component).
//!
//! An API whose `openApiFile` is set takes its operations from that OpenAPI document, as
//! APIM's import does (one operation per path and method, `operationId` as its name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::policy::{self, Policy, PolicyDocument};
use crate::template::UrlTemplate;

/// Where the declarations live, relative to the repository root.
pub const APIS: [&str; 2] = ["infra/apim/apis/api.json", "infra/apim/apis/public.json"];
pub const BACKENDS: &str = "infra/apim/backends.json";
pub const NAMED_VALUES: &str = "infra/apim/named-values.json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApiFile {
    name: String,
    display_name: String,
    #[allow(dead_code)]
    description: String,
    path: String,
    subscription_required: bool,
    subscription_key_parameter_names: KeyNames,
    protocols: Vec<String>,
    open_api_file: Option<String>,
    operations: Vec<OperationFile>,
    policy_file: String,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct KeyNames {
    pub header: String,
    pub query: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OperationFile {
    name: String,
    #[allow(dead_code)]
    display_name: String,
    method: String,
    url_template: String,
    #[allow(dead_code)]
    template_parameters: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendFile {
    pub name: String,
    #[allow(dead_code)]
    pub description: String,
    pub protocol: String,
    pub credentials: Credentials,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Header name to values, each possibly a `{{named value}}` reference.
    pub header: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NamedValueFile {
    name: String,
    #[allow(dead_code)]
    display_name: String,
    secret: bool,
    value: Option<String>,
    #[allow(dead_code)]
    key_vault_secret_name: Option<String>,
    #[allow(dead_code)]
    description: String,
}

/// One operation: method and URL template (relative to the API path).
#[derive(Debug)]
pub struct Operation {
    pub name: String,
    pub method: http::Method,
    pub template: UrlTemplate,
}

/// One API, ready to serve.
#[derive(Debug)]
pub struct Api {
    pub name: String,
    pub display_name: String,
    /// Path prefix without slashes, e.g. `api`.
    pub path: String,
    pub subscription_required: bool,
    pub key_names: KeyNames,
    pub operations: Vec<Operation>,
    pub policy: PolicyDocument,
    /// The backend entity the policy's `set-backend-service` names (whose credentials
    /// the forwarded requests carry); `None`: no credentials are injected.
    pub backend_id: Option<String>,
}

/// A backend entity: headers injected into every request forwarded to it.
#[derive(Debug)]
pub struct Backend {
    pub id: String,
    pub credential_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// Everything loaded.
#[derive(Debug)]
pub struct Declarations {
    pub apis: Vec<Api>,
    pub backends: Vec<Backend>,
}

impl Declarations {
    /// The backend entity an API's `set-backend-service` names (checked at load).
    pub fn backend(&self, id: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.id == id)
    }
}

/// Named values: defaults from the file, overridden (and secrets supplied) by the caller.
pub fn named_values(
    root: &Path,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let file = root.join(NAMED_VALUES);
    let declared: Vec<NamedValueFile> = read_json(&file)?;
    let mut values = BTreeMap::new();
    for nv in &declared {
        match (given.get(&nv.name), &nv.value, nv.secret) {
            (Some(value), _, _) => values.insert(nv.name.clone(), value.clone()),
            (None, Some(value), false) => values.insert(nv.name.clone(), value.clone()),
            (None, _, true) => bail!(
                "{}: secret named value `{}` has no value: pass --named-value {}=... or set it \
                 in the settings file",
                file.display(),
                nv.name,
                nv.name
            ),
            (None, None, false) => {
                bail!("{}: named value `{}` has no value", file.display(), nv.name)
            }
        };
    }
    for name in given.keys() {
        if !declared.iter().any(|nv| &nv.name == name) {
            bail!("named value {name}: not declared in {}", file.display());
        }
    }
    Ok(values)
}

/// Read and check every declaration file under `root`.
pub fn load(root: &Path, named: &BTreeMap<String, String>) -> Result<Declarations> {
    let backends = load_backends(&root.join(BACKENDS), named)?;
    let backend_ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();

    let mut apis = Vec::new();
    for file in APIS {
        let path = root.join(file);
        let decl: ApiFile = read_json(&path)?;
        if decl.path.contains('/') || decl.path.is_empty() {
            bail!(
                "{}: path must be one segment, got {:?}",
                path.display(),
                decl.path
            );
        }
        if decl.protocols.iter().any(|p| p != "https" && p != "http") {
            bail!(
                "{}: unknown protocol in {:?}",
                path.display(),
                decl.protocols
            );
        }
        let mut operations = Vec::new();
        for op in &decl.operations {
            operations.push(Operation {
                name: op.name.clone(),
                method: op
                    .method
                    .parse()
                    .with_context(|| format!("{}: method {}", path.display(), op.method))?,
                template: UrlTemplate::parse(&op.url_template)
                    .with_context(|| format!("{}: {}", path.display(), op.url_template))?,
            });
        }
        if let Some(openapi) = &decl.open_api_file {
            operations.extend(operations_from_openapi(&root.join(openapi))?);
        }
        if operations.is_empty() {
            bail!("{}: the API has no operations", path.display());
        }
        let policy = policy::load(&root.join(&decl.policy_file), named, &backend_ids)?;
        let backend_id = policy
            .inbound
            .iter()
            .chain(&policy.backend)
            .filter_map(|p| match p {
                Policy::SetBackendService { backend_id } => Some(backend_id.clone()),
                _ => None,
            })
            .last();
        apis.push(Api {
            name: decl.name,
            display_name: decl.display_name,
            path: decl.path,
            subscription_required: decl.subscription_required,
            key_names: decl.subscription_key_parameter_names,
            operations,
            policy,
            backend_id,
        });
    }
    Ok(Declarations { apis, backends })
}

/// The backend entities (a JSON array), their `{{named value}}` credentials substituted.
fn load_backends(path: &Path, named: &BTreeMap<String, String>) -> Result<Vec<Backend>> {
    let files: Vec<BackendFile> = read_json(path)?;
    if files.is_empty() {
        bail!("{}: no backend entity declared", path.display());
    }
    let mut backends: Vec<Backend> = Vec::new();
    for backend in files {
        if backend.protocol != "http" {
            bail!(
                "{}: backend {}: only protocol \"http\" is implemented",
                path.display(),
                backend.name
            );
        }
        if backends.iter().any(|b| b.id == backend.name) {
            bail!(
                "{}: backend {} declared twice",
                path.display(),
                backend.name
            );
        }
        let mut credential_headers = Vec::new();
        for (name, values) in &backend.credentials.header {
            for value in values {
                // Errors name the header and the named value, never the value.
                let value = policy::substitute(value, named).with_context(|| {
                    format!(
                        "{}: backend {}: credentials header {name}",
                        path.display(),
                        backend.name
                    )
                })?;
                credential_headers.push((
                    name.parse().with_context(|| {
                        format!("{}: invalid header name {name}", path.display())
                    })?,
                    value.parse().with_context(|| {
                        format!(
                            "{}: backend {}: credentials header {name}: not a valid header value",
                            path.display(),
                            backend.name
                        )
                    })?,
                ));
            }
        }
        backends.push(Backend {
            id: backend.name,
            credential_headers,
        });
    }
    Ok(backends)
}

/// Operations as APIM's OpenAPI import creates them.
fn operations_from_openapi(path: &Path) -> Result<Vec<Operation>> {
    let doc: serde_json::Value = read_json(path)?;
    let paths = doc["paths"]
        .as_object()
        .with_context(|| format!("{}: no paths", path.display()))?;
    let mut operations = Vec::new();
    for (url, item) in paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Ok(method) = method.to_uppercase().parse::<http::Method>() else {
                continue;
            };
            if ![
                "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE",
            ]
            .contains(&method.as_str())
            {
                continue;
            }
            operations.push(Operation {
                name: op["operationId"].as_str().unwrap_or(url).to_owned(),
                method,
                template: UrlTemplate::parse(url)?,
            });
        }
    }
    Ok(operations)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not the expected JSON shape", path.display()))
}

/// The repository root: `--config-root`, or the directory holding `infra/`.
pub fn default_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}
