//! A small HTTP/1.1 and HTTP/2 client (hyper's client connections), plain or over rustls,
//! that returns trailers too: gRPC calls and OTLP/HTTP over HTTP/2 or TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};

/// The gRPC method the relay serves.
pub const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// What came back.
#[derive(Debug)]
pub struct Call {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
}

impl Call {
    fn grpc(&self, name: &str) -> Option<String> {
        self.trailers
            .get(name)
            .or_else(|| self.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }

    /// `grpc-status` from the trailers or (Trailers-Only) the headers.
    pub fn grpc_status(&self) -> Option<i32> {
        self.grpc("grpc-status").and_then(|s| s.parse().ok())
    }

    pub fn grpc_message(&self) -> String {
        self.grpc("grpc-message").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

/// How to connect.
#[derive(Clone, Default)]
pub struct Client {
    /// HTTP/2 (h2c with prior knowledge, or `h2` over TLS); else HTTP/1.1.
    pub http2: bool,
    pub tls: Option<Arc<ClientConfig>>,
}

/// A client configuration trusting `ca_pem`, offering `alpn`, with a client certificate.
pub fn tls_config(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        roots.add(cert).unwrap_or_else(|e| panic!("CA: {e}"));
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .flatten()
                .collect();
            let key =
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            builder
                .with_client_auth_cert(chain, key)
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A gRPC Export call with `message` framed (`compressed`: flag set, message as given).
pub fn grpc_frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut framed = vec![u8::from(compressed)];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// `POST path` with `headers` and `body`, within 30 s; `Err` when no HTTP answer came.
pub fn post(
    addr: SocketAddr,
    client: &Client,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Call, String> {
    request(addr, client, hyper::Method::POST, path, headers, body)
}

/// Any method, as [`post`].
pub fn request(
    addr: SocketAddr,
    client: &Client,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Call, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let scheme = if client.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{scheme}://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !client.http2 {
        request = request.header("host", addr.to_string());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let call = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        match &client.tls {
            None => send(stream, client.http2, request).await,
            Some(config) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let stream = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|e| format!("tls: {e}"))?;
                send(stream, client.http2, request).await
            }
        }
    };
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .map_err(|_| "no answer within 30 s".to_string())?
    })
}

async fn send<I>(io: I, http2: bool, request: Request<Full<Bytes>>) -> Result<Call, String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let failed = |e: hyper::Error| format!("http: {e}");
    let response = if http2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(failed)?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(failed)?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(failed)?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(failed)?
    };
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(failed)?;
    Ok(Call {
        status: parts.status.as_u16(),
        headers: parts.headers,
        trailers: collected.trailers().cloned().unwrap_or_default(),
        body: collected.to_bytes().to_vec(),
    })
}
