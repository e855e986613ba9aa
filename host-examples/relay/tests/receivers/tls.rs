//! TLS and mTLS on both receivers, ALPN (h2 and http/1.1 on the OTLP/HTTP port, h2 on
//! gRPC), and the certificate reload.

use std::time::Duration;

use super::golden_protobuf;
use crate::support::certs::TestPki;
use crate::support::h2::{grpc_frame, post, tls_config, Client, EXPORT};
use crate::support::*;

const GRPC: [(&str, &str); 2] = [("content-type", "application/grpc"), ("te", "trailers")];
const PROTOBUF: [(&str, &str); 1] = [("content-type", "application/x-protobuf")];

fn client(pki: &TestPki, identity: bool, alpn: &[&[u8]]) -> Client {
    let identity = identity.then_some((pki.client_cert_pem.as_str(), pki.client_key_pem.as_str()));
    Client {
        http2: alpn.first() == Some(&&b"h2"[..]),
        tls: Some(tls_config(&pki.ca_pem, identity, alpn)),
    }
}

#[test]
fn tls_serves_grpc_and_otlp_http_over_both_http_versions() {
    let pki = TestPki::new("relink test CA");
    let dir = TempDir::new("tls");
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let relay = start(Opts {
        grpc: true,
        upstream: Some(&upstream),
        tls: Some(pki.server_files(&dir, false)),
        ..Opts::default()
    });
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    let (body, _) = golden_protobuf("pass-through", 1);
    let grpc = post(
        grpc_addr,
        &client(&pki, false, &[b"h2"]),
        EXPORT,
        &GRPC,
        grpc_frame(&body, false),
    );
    assert_eq!(grpc.map(|c| c.grpc_status()), Ok(Some(0)));
    for alpn in [&[&b"h2"[..]][..], &[b"http/1.1"]] {
        let answer = post(
            relay.local_addr(),
            &client(&pki, false, alpn),
            "/v1/traces",
            &PROTOBUF,
            body.clone(),
        );
        assert_eq!(answer.map(|c| c.status), Ok(200), "{alpn:?}");
    }
    assert_eq!(upstream.wait_received(3).len(), 3);
    // A plain-text client on a TLS port gets no HTTP answer; a client that does not trust
    // the relay's CA fails its handshake, and the relay counts it.
    let plain = post(
        grpc_addr,
        &Client {
            http2: true,
            tls: None,
        },
        EXPORT,
        &GRPC,
        grpc_frame(&body, false),
    );
    assert!(plain.is_err(), "{plain:?}");
    let stranger = TestPki::new("another CA");
    let untrusted = post(
        grpc_addr,
        &client(&stranger, false, &[b"h2"]),
        EXPORT,
        &GRPC,
        grpc_frame(&body, false),
    );
    assert!(
        untrusted
            .as_ref()
            .is_err_and(|e| e.contains("UnknownIssuer")),
        "{untrusted:?}"
    );
    wait_for_metric(&relay, "relink_relay_tls_handshake_failures_total 2");
}

#[test]
fn mtls_refuses_a_client_without_a_certificate() {
    let pki = TestPki::new("relink test CA");
    let dir = TempDir::new("mtls");
    let relay = start(Opts {
        grpc: true,
        tls: Some(pki.server_files(&dir, true)),
        ..Opts::default()
    });
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    let (body, _) = golden_protobuf("pass-through", 1);
    for (addr, path, headers, framed, alpn) in [
        (
            grpc_addr,
            EXPORT,
            &GRPC[..],
            grpc_frame(&body, false),
            &[&b"h2"[..]][..],
        ),
        (
            relay.local_addr(),
            "/v1/traces",
            &PROTOBUF[..],
            body.clone(),
            &[b"http/1.1"],
        ),
    ] {
        let without = post(
            addr,
            &client(&pki, false, alpn),
            path,
            headers,
            framed.clone(),
        );
        // TLS 1.3: the client's handshake finishes first, then its request meets the
        // server's alert and a closed connection.
        assert!(without.is_err(), "{without:?}");
        let with = post(addr, &client(&pki, true, alpn), path, headers, framed)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with.status, 200);
        if addr == grpc_addr {
            assert_eq!(with.grpc_status(), Some(0));
        }
    }
    // A client certificate from another CA is refused too.
    let stranger = TestPki::new("another CA");
    let foreign = Client {
        http2: true,
        tls: Some(crate::support::h2::tls_config(
            &pki.ca_pem,
            Some((&stranger.client_cert_pem, &stranger.client_key_pem)),
            &[b"h2"],
        )),
    };
    assert!(post(grpc_addr, &foreign, EXPORT, &GRPC, grpc_frame(&body, false)).is_err());
    wait_for_metric(&relay, "relink_relay_tls_handshake_failures_total 3");
}

/// The relay counts a failed handshake on its own task, maybe after the client gave up.
fn wait_for_metric(relay: &relink_relay::Relay, line: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut metrics = relay.pipeline().prometheus();
    while !metrics.contains(line) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        metrics = relay.pipeline().prometheus();
    }
    assert!(metrics.contains(line), "{line} not in\n{metrics}");
}

#[test]
fn certificates_are_reloaded_without_a_restart() {
    let first = TestPki::new("first CA");
    let dir = TempDir::new("reload");
    let relay = start(Opts {
        grpc: true,
        tls: Some(first.server_files(&dir, false)),
        ..Opts::default()
    });
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    let (body, _) = golden_protobuf("pass-through", 1);
    let export = |pki: &TestPki| {
        post(
            grpc_addr,
            &client(pki, false, &[b"h2"]),
            EXPORT,
            &GRPC,
            grpc_frame(&body, false),
        )
    };
    assert_eq!(export(&first).map(|c| c.grpc_status()), Ok(Some(0)));
    // A broken file is reported and the old certificate stays.
    dir.write("server.key", b"not a key");
    let lines = relay.reload_credentials();
    assert!(
        lines
            .iter()
            .all(|l| l.contains("keeps its previous certificate")),
        "{lines:?}"
    );
    assert_eq!(export(&first).map(|c| c.grpc_status()), Ok(Some(0)));
    // A renewed certificate from a new CA is served to new connections.
    let second = TestPki::new("second CA");
    second.server_files(&dir, false);
    assert_eq!(
        relay.reload_credentials(),
        [
            "reloaded the OTLP/HTTP TLS certificate and key",
            "reloaded the OTLP/gRPC TLS certificate and key"
        ]
    );
    assert_eq!(export(&second).map(|c| c.grpc_status()), Ok(Some(0)));
    assert!(export(&first).is_err());
}

#[test]
fn unusable_tls_files_stop_the_start_naming_the_flag() {
    let pki = TestPki::new("relink test CA");
    let dir = TempDir::new("tls-start");
    let mut files = pki.server_files(&dir, true);
    let start_with = |files: &relink_relay::options::TlsFiles| {
        let options = relink_relay::ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            component: component(),
            receivers: relink_relay::options::Receivers {
                grpc_listen: relink_relay::options::GrpcListen::Off,
                tls: Some(files.clone()),
                bearer_token_file: None,
            },
            ..relink_relay::ServeOptions::default()
        };
        match relink_relay::Relay::start(&options) {
            Ok(_) => panic!("started with {files:?}"),
            Err(e) => (e.code, e.message),
        }
    };
    files.key = dir.write("cert-as-key.pem", pki.server_cert_pem.as_bytes());
    let (code, message) = start_with(&files);
    assert_eq!(code, 2);
    assert!(
        message.starts_with("--tls-key ") && message.ends_with("no PEM private key"),
        "{message}"
    );
    files.client_ca = Some(dir.path("missing-ca.pem"));
    let (code, message) = start_with(&files);
    assert_eq!(code, 2);
    assert!(message.starts_with("--tls-client-ca "), "{message}");
}

#[test]
fn a_client_that_never_starts_the_handshake_is_closed_after_the_header_timeout() {
    use std::io::Read;

    let pki = TestPki::new("relink test CA");
    let dir = TempDir::new("tls-silent");
    let relay = start(Opts {
        grpc: true,
        tls: Some(pki.server_files(&dir, false)),
        header_timeout: Duration::from_secs(1),
        ..Opts::default()
    });
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    for addr in [relay.local_addr(), grpc_addr] {
        // Connects and sends no ClientHello: without a bound the connection would hold its
        // slot for good.
        let mut silent =
            std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        let mut byte = [0u8; 1];
        let read = silent.read(&mut byte);
        let waited = started.elapsed();
        assert!(
            matches!(read, Ok(0))
                || read
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "{addr}: {read:?} after {waited:?}"
        );
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{addr}: closed after {waited:?}"
        );
    }
    wait_for_metric(&relay, "relink_relay_tls_handshake_failures_total 2");
}
