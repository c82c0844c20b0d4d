//! `--forward ADDR`'s plan: the upstream's address beneath its layers'
//! schemes, the client options its connections take (TLS trust, a proxy,
//! a PROXY protocol header, a WebSocket), its timeouts, and the fault
//! flags as the forwarded connections' layers.

use super::{
    Client, Upstream, addr_port, address, client_opts, client_tls, client_ws, proxy,
    proxy_protocol, shown_with_layers, strip_layers,
};
use crate::addr::{self, Addr};
use crate::cli::faults::FaultArgs;
use crate::cli::{ClientTlsArgs, ServerArgs};
use crate::error::{Error, Result};
use crate::handler::forward::Forward;
use crate::relay::layers::{Direction, Layers};
use crate::relay::rate::Rate;
use crate::send;

/// `--forward ADDR`: the target (checked against the listening sockets'
/// kind by [`by_kind`]).
pub(super) fn forward(raw: &std::ffi::OsStr, args: &ServerArgs) -> Result<Upstream> {
    // The target is written whole (udp://, unixgram:): -u and -U shape the
    // listening address only.
    let (raw, tls, ws_url) = strip_layers(raw, false, false, false)?;
    let target = address(&raw, false, false).map_err(|e| match e {
        Error::Usage(m) => Error::usage(format!("--forward: {m}")),
        e => e,
    })?;
    if addr_port(&target) == Some(0) {
        return Err(Error::usage(format!(
            "--forward {target}: a forward connects to its upstream's real port; {}",
            send::scan::NO_PORT_0
        )));
    }
    // One string for the server's life, shown in every event about it.
    let shown = match &target {
        Addr::Inet {
            proto: addr::Proto::Udp,
            ..
        } => format!("udp://{target}"),
        Addr::Inet { .. } => target.to_string(),
        Addr::Unix { dgram: true, .. } => format!("unixgram:{target}"),
        Addr::Unix { dgram: false, .. } => format!("unix:{target}"),
    };
    let mut opts = client_opts(&args.common);
    // No Nagle on the upstream side either (see `server`).
    opts.nodelay = true;
    opts.send_proxy = proxy_protocol::send_proxy(args.proxy_protocol.send_proxy, None);
    let proxy = proxy(args.proxy.as_deref(), &target)?;
    let t = &args.tls;
    let verify = ClientTlsArgs {
        tls,
        cacert: t.cacert.clone(),
        pin: t.pin.clone(),
        insecure: t.insecure,
        sni: t.sni.clone(),
        ..ClientTlsArgs::default()
    };
    let tls_spec = client_tls(&verify, &target, "--forward")?;
    let shown = shown_with_layers(ws_url.as_ref(), tls, shown);
    opts.ws = ws_url.as_ref().map(|u| client_ws(u, &args.ws.ws, true));
    let forward = Forward {
        addr: target.clone(),
        shown: shown.into(),
        opts,
        timeout: args
            .connect_timeout
            .unwrap_or(crate::handler::forward::CONNECT_TIMEOUT),
        half_close: args
            .half_close_timeout
            .unwrap_or(crate::handler::forward::HALF_CLOSE_TIMEOUT),
        layers: layers(&args.faults, &target)?,
    };
    Ok(Upstream {
        forward,
        client: Client {
            proxy,
            tls: tls_spec,
        },
    })
}

/// The faults (`--rate`, `--cut-after`, `--reset-after`, `--delay`,
/// `--slice`, `--slow-close`, `--blackhole`, `--refuse`; `--fault-dir`, `--fault-fraction`, `--seed`) as the forwarded connections'
/// layers. Most act on streams (a datagram upstream is refused here, a
/// datagram server by [`by_kind`]); `--loss`, `--duplicate`, `--reorder`
/// on datagram sessions alone, and `--delay` on both.
fn layers(f: &FaultArgs, target: &Addr) -> Result<Layers> {
    use crate::cli::faults::{FaultDir, ResetArg};
    use crate::relay::cut::{Ending, How};
    use crate::relay::delay::Delay;
    let layers = Layers {
        rate: f.fault.rate.map(|r| match r.burst {
            Some(burst) => Rate {
                per_sec: r.per_sec,
                burst,
            },
            None => Rate::new(r.per_sec),
        }),
        ending: match (f.fault.cut_after, f.fault.reset_after) {
            (Some(n), _) => Some(Ending::Bytes(How::Fin, n)),
            (None, Some(ResetArg::Bytes(n))) => Some(Ending::Bytes(How::Reset, n)),
            (None, Some(ResetArg::Time(d))) => Some(Ending::Time(d)),
            (None, None) => None,
        },
        delay: f.fault.delay.map(|d| Delay {
            latency: d.latency,
            jitter: d.jitter,
        }),
        slice: f.fault.slice.map(|s| crate::relay::slice::Slice {
            bytes: s.bytes,
            gap: s.gap,
        }),
        slow_close: f.fault.slow_close,
        // (`--blackhole` alone, or `0s`: for good.)
        blackhole: f.fault.blackhole.map(|d| Some(d).filter(|d| !d.is_zero())),
        refuse: f.fault.refuse,
        loss: f.fault.loss,
        duplicate: f.fault.duplicate,
        reorder: f.fault.reorder,
        dir: match f.fault_dir {
            FaultDir::Up => Direction::Up,
            FaultDir::Down => Direction::Down,
            FaultDir::Both => Direction::Both,
        },
        fraction: f.fault_fraction.unwrap_or(1.0),
        seed: f.seed.unwrap_or_else(crate::relay::chance::fresh_seed),
        control: crate::cli::faults::control(f).map(|mut c| {
            c.datagram = target.is_datagram();
            c
        }),
        ..Layers::default()
    };
    if let (Some(flag), true) = (layers.stream_flag(), target.is_datagram()) {
        return Err(Error::usage(format!(
            "{flag} acts on stream connections; {target} is a {} address",
            target.kind()
        )));
    }
    if let (Some(flag), false) = (layers.dgram_flag(), target.is_datagram()) {
        return Err(Error::usage(format!(
            "{flag} acts on datagrams; {target} is a {} address",
            target.kind()
        )));
    }
    Ok(layers)
}
