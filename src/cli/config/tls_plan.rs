//! TLS options checked and planned, for a server (`--tls`, `--cert`,
//! the names a generated certificate carries) and a client (`--cacert`,
//! `--pin`, `--insecure`, `--sni`, `--alpn`).

use super::*;

/// Said on stderr whenever `--insecure` is in force (by `start`, once the
/// client's TLS is made).
pub const INSECURE: &str = "--insecure: the server's certificate is not verified; \
                        anyone on the path can read and change the traffic";

/// `tls://REST` is `tcp://REST` with TLS; `--tls` (`flag`) asks for TLS on
/// any stream address. Returns the address without `tls://`, and whether
/// TLS was asked for. `udp` is `-u`, which `tls://` contradicts.
pub(super) fn strip_tls(
    raw: &std::ffi::OsStr,
    flag: bool,
    udp: bool,
) -> Result<(std::ffi::OsString, bool)> {
    match raw.to_str().and_then(|s| s.strip_prefix("tls://")) {
        Some(_) if udp => Err(Error::usage(format!(
            "-u conflicts with the address '{}' (TLS runs over TCP)",
            raw.to_string_lossy()
        ))),
        Some(rest) => Ok((format!("tcp://{rest}").into(), true)),
        None => Ok((raw.to_owned(), flag)),
    }
}

/// The names a generated certificate carries: the host the server binds
/// (with both loopback addresses for `localhost`, and `localhost` for a
/// loopback address; this machine's name and loopback for a wildcard or an
/// inherited socket).
pub(super) fn certificate_names(raw: &std::ffi::OsStr) -> Vec<String> {
    let loopback = || vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = match raw.to_str() {
        // An inherited socket (stdio, fd:N, systemd): any address, as a wildcard.
        Some(s) if addr::parse_inherited(s).is_some() => String::new(),
        Some(s) => match addr::parse(s) {
            Ok(Addr::Inet { host, .. }) => host,
            _ => return loopback(),
        },
        None => return loopback(),
    };
    let wildcard = host.is_empty()
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
    if wildcard {
        let mut names = loopback();
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            let h = h.trim();
            if !h.is_empty() {
                names.insert(0, h.to_string());
            }
        }
        names
    } else if host == "localhost" {
        loopback()
    } else if host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        // A loopback address is also reached as localhost.
        vec![host, "localhost".into()]
    } else {
        vec![host]
    }
}

/// `--alpn h2,http/1.1`.
pub(super) fn alpn(list: Option<&str>) -> Result<Vec<Vec<u8>>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let protos: Vec<Vec<u8>> = list
        .split(',')
        .map(|p| p.trim().as_bytes().to_vec())
        .collect();
    if protos.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(Error::usage(format!(
            "--alpn {list}: protocol names are 1-255 bytes, comma-separated"
        )));
    }
    Ok(protos)
}

/// A server's TLS, as `start` is to make it.
pub(super) fn server_tls(
    t: &crate::cli::ServerTlsArgs,
    raw: &std::ffi::OsStr,
) -> Result<tls::ServerSpec> {
    Ok(tls::ServerSpec {
        identity: t.cert.clone().zip(t.key.clone()),
        save: t.save_cert.clone().zip(t.save_key.clone()),
        client_ca: t.client_ca.clone(),
        alpn: alpn(t.alpn.as_deref())?,
        names: certificate_names(raw),
    })
}

/// A server's TLS options without TLS: a mistake worth a word.
pub(super) fn no_server_tls(t: &crate::cli::ServerTlsArgs) -> Result<()> {
    let given = [
        ("--cert", t.cert.is_some()),
        ("--save-cert", t.save_cert.is_some()),
        ("--client-ca", t.client_ca.is_some()),
        ("--alpn", t.alpn.is_some()),
    ];
    match given.iter().find(|g| g.1) {
        Some((flag, _)) => Err(Error::usage(format!(
            "{flag} is for a TLS server: listen on tls://HOST:PORT (or add --tls)"
        ))),
        None => Ok(()),
    }
}

/// A client's TLS for connections to `target`, as `start` is to make it
/// (None without TLS, where TLS options are refused). `what` names the
/// option, for a forwarder.
pub(super) fn client_tls(
    t: &ClientTlsArgs,
    target: &Addr,
    what: &str,
) -> Result<Option<tls::ClientSpec>> {
    let trusts = t.cacert.is_some() || !t.pin.is_empty() || t.insecure || t.sni.is_some();
    if !t.tls {
        if trusts || t.cert.is_some() || t.alpn.is_some() {
            let target_hint = if what.is_empty() {
                "tls://HOST:PORT (or add --tls)"
            } else {
                "--forward tls://HOST:PORT"
            };
            return Err(Error::usage(format!(
                "--cacert, --pin, --insecure, --sni, --cert and --alpn are for TLS: \
                 connect to {target_hint}"
            )));
        }
        return Ok(None);
    }
    let stream = matches!(
        target,
        Addr::Inet {
            proto: addr::Proto::Tcp,
            ..
        } | Addr::Unix { dgram: false, .. }
    );
    if !stream {
        return Err(Error::usage(format!(
            "TLS runs over a TCP or Unix stream socket, not {}",
            target.kind()
        )));
    }
    if t.insecure && !t.pin.is_empty() {
        return Err(Error::usage(
            "--insecure and --pin contradict each other: a pin is verification",
        ));
    }
    if matches!(target, Addr::Unix { .. }) && t.pin.is_empty() && !t.insecure && t.sni.is_none() {
        return Err(Error::usage(
            "a Unix socket has no host name to verify: give --pin, or --cacert with --sni NAME",
        ));
    }
    let pins = t
        .pin
        .iter()
        .map(|p| tls::parse_pin(p))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(tls::ClientSpec {
        cacert: t.cacert.clone(),
        pins,
        insecure: t.insecure,
        sni: t.sni.clone(),
        identity: t.cert.clone().zip(t.key.clone()),
        alpn: alpn(t.alpn.as_deref())?,
    }))
}
