//! The HTTPS client of every outbound call: the AWS SDK's clients (Secrets Manager, DynamoDB,
//! SES), Stripe's and the identity providers' key sets. hyper over rustls (aws-lc), trusting
//! Mozilla's root certificates compiled in (webpki-roots): nothing to read or parse at a cold
//! start, where loading the system's roots (twice: the SDK's client and reqwest's) was two thirds
//! of a function's init (`scripts/coldstart.py`). `SSL_CERT_FILE` adds a PEM file's roots (a
//! proxy's own CA).

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::{
    HttpClient as SdkHttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;

use crate::config::{ProcessEnv, Source};

type Connector = hyper_rustls::HttpsConnector<TcpConnector>;

/// How long a connection may take to open (the AWS SDK's own default is 3.1 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One pool of connections (HTTP/1.1, kept alive) over the process's one TLS configuration.
/// Make one per runtime: a pooled connection belongs to the tokio runtime that opened it.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<HyperClient<Connector, SdkBody>>,
}

/// A call that got no answer, or an answer that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("timed out")]
    TimedOut,
    #[error("{0}")]
    Failed(String),
}

/// The roots trusted: Mozilla's, and the certificates of `extra` (a PEM file's text), with how
/// many of those were added.
fn roots(extra: Option<&[u8]>) -> (rustls::RootCertStore, usize) {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let added = extra.map_or(0, |pem| {
        roots.add_parsable_certificates(rustls::pki_types::CertificateDer::pem_slice_iter(pem).filter_map(Result::ok)).0
    });
    (roots, added)
}

/// The TLS configuration, built once per process.
fn tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let extra = std::env::var_os("SSL_CERT_FILE").and_then(|path| {
            std::fs::read(&path)
                .inspect_err(|e| tracing::warn!(error = %e, "SSL_CERT_FILE cannot be read; its roots are not trusted"))
                .ok()
        });
        let (roots, added) = roots(extra.as_deref());
        if extra.is_some() {
            tracing::info!(added, "roots added from SSL_CERT_FILE");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("aws-lc supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
    .clone()
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls()).clone())
            // http:// for local servers (moto, mock Stripe, the dev tools); https:// everywhere else.
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let inner = HyperClient::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        HttpClient { inner: Arc::new(inner) }
    }

    /// One request and its whole answer, within `timeout`.
    pub async fn send(
        &self,
        request: ::http::Request<SdkBody>,
        timeout: Duration,
    ) -> Result<(::http::response::Parts, bytes::Bytes), OutboundError> {
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| OutboundError::Failed(describe(&e)))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| OutboundError::Failed(describe(&e)))?.to_bytes();
            Ok((parts, body))
        };
        // Boxed: hyper's future is large, and a caller's future (a Stripe call inside a webhook
        // event inside a request) should not carry it inline.
        tokio::time::timeout(timeout, Box::pin(exchange)).await.map_err(|_| OutboundError::TimedOut)?
    }

    /// The AWS SDK's configuration over this client, from the environment as Lambda sets it: the
    /// role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`). For a local `endpoint` (moto's server in tests)
    /// the region defaults to us-east-1 and placeholder credentials stand in when none are set.
    /// Built with the CLI's `aws-default-chain`, anything else (a developer's profile) goes to
    /// aws-config's default chains; a function links no chain, reads no profile file and builds
    /// no STS or IMDS client at its cold start.
    pub async fn aws_config(&self, endpoint: Option<&str>) -> aws_types::SdkConfig {
        let var = |name: &str| ProcessEnv.get(name);
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                Some(Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment"))
            }
            _ => endpoint.map(|_| Credentials::new("local", "local", None, None, "tollgate-local")),
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| endpoint.map(|_| "us-east-1".to_owned()));
        #[cfg(feature = "aws-default-chain")]
        if credentials.is_none() || region.is_none() {
            return aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(self.clone()).load().await;
        }
        if credentials.is_none() {
            tracing::warn!("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
        }
        let mut config = aws_types::SdkConfig::builder()
            .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
            .http_client(self.clone())
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
                aws_smithy_async::rt::sleep::TokioSleep::new(),
            ))
            .time_source(aws_smithy_async::time::SharedTimeSource::new(aws_smithy_async::time::SystemTimeSource::new()))
            .retry_config(aws_types::sdk_config::RetryConfig::standard())
            .timeout_config(aws_types::sdk_config::TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
            .region(region.map(aws_types::region::Region::new))
            .service_config(EndpointVariables);
        config
            .set_credentials_provider(credentials.map(aws_credential_types::provider::SharedCredentialsProvider::new));
        config.set_endpoint_url(endpoint.map(str::to_owned));
        config.build()
    }
}

/// The SDK's endpoint variables, read from the environment as aws-config reads them (its profile
/// files aside): `AWS_ENDPOINT_URL_<SERVICE>` (`_SECRETS_MANAGER`, `_DYNAMODB`, `_SESV2`), then
/// `AWS_ENDPOINT_URL`, neither when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
#[derive(Debug)]
struct EndpointVariables;

impl aws_types::service_config::LoadServiceConfig for EndpointVariables {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        endpoint_variable(key.service_id(), key.env(), &ProcessEnv)
    }
}

/// `env`'s value for `service` (`AWS_ENDPOINT_URL` and "Secrets Manager": the first set of
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`), as `source` reads the environment
/// (a blank value is unset).
fn endpoint_variable(service: &str, env: &str, source: &dyn Source) -> Option<String> {
    let var = |name: &str| source.get(name);
    if env == "AWS_ENDPOINT_URL"
        && var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    let service = service.to_ascii_uppercase().replace(' ', "_");
    var(&format!("{env}_{service}")).or_else(|| var(env))
}

/// An error and its causes, one line (never a URL's secrets: Tollgate puts none in URLs).
fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// How the SDK should treat a failed exchange: a connection that failed or broke is retried.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = find::<std::io::Error>(&error).is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
    let kind: fn(aws_smithy_runtime_api::box_error::BoxError) -> ConnectorError = match find::<hyper::Error>(&error) {
        _ if timed_out => ConnectorError::timeout,
        _ if error.is_connect() => ConnectorError::io,
        Some(e) if e.is_user() => ConnectorError::user,
        Some(e) if e.is_closed() || e.is_canceled() || e.is_incomplete_message() => ConnectorError::io,
        _ if find::<std::io::Error>(&error).is_some() => ConnectorError::io,
        _ => |e| ConnectorError::other(e, None),
    };
    kind(Box::new(error))
}

impl HttpConnector for HttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|e| ConnectorError::user(Box::new(e)))?;
            let response = inner.request(request).await.map_err(connector_error)?;
            let response = response.map(SdkBody::from_body_1_x);
            aws_smithy_runtime_api::http::Response::try_from(response)
                .map_err(|e| ConnectorError::other(Box::new(e), None))
        })
    }
}

impl SdkHttpClient for HttpClient {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn mozillas_roots_are_built_in_and_a_pem_files_are_added() {
        let (builtin, none) = roots(None);
        assert!(builtin.len() > 100, "Mozilla's roots: {}", builtin.len());
        assert_eq!(none, 0);
        let (with, added) = roots(Some(include_bytes!("../tests/fixtures/test_ca.pem")));
        assert_eq!((added, with.len()), (1, builtin.len() + 1));
        let (same, added) = roots(Some(b"not a certificate"));
        assert_eq!((added, same.len()), (0, builtin.len()));
    }

    #[test]
    fn the_sdks_endpoint_variables_are_read_per_service_then_for_all() {
        let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let both = env(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://sm"), ("AWS_ENDPOINT_URL", "http://all")]);
        assert_eq!(endpoint_variable("Secrets Manager", "AWS_ENDPOINT_URL", &both).as_deref(), Some("http://sm"));
        assert_eq!(endpoint_variable("DynamoDB", "AWS_ENDPOINT_URL", &both).as_deref(), Some("http://all"));
        let blank = env(&[("AWS_ENDPOINT_URL_SESV2", " "), ("AWS_ENDPOINT_URL", "")]);
        assert_eq!(endpoint_variable("SESv2", "AWS_ENDPOINT_URL", &blank), None);
        let ignored =
            env(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://db"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE")]);
        assert_eq!(endpoint_variable("DynamoDB", "AWS_ENDPOINT_URL", &ignored), None);
        assert_eq!(endpoint_variable("DynamoDB", "AWS_ENDPOINT_URL", &env(&[])), None);
    }

    #[tokio::test]
    async fn a_connection_refused_is_an_error_naming_the_cause_and_a_silent_server_times_out() {
        let client = HttpClient::new();
        let request =
            |port: u16| ::http::Request::get(format!("http://127.0.0.1:{port}/")).body(SdkBody::empty()).unwrap();
        let refused = client.send(request(9), Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(&refused, OutboundError::Failed(m) if m.contains("onnect")), "{refused}");
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let timed_out = client.send(request(port), Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(timed_out, OutboundError::TimedOut), "{timed_out}");
    }
}
