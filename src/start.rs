//! What the checked command line asks to have made, made in one place for
//! every subcommand, right after `cli::config` has checked it all (which
//! opens no descriptor it keeps):
//!
//! 1. inherited sockets (`fd:N`, `systemd[:NAME]`, `stdio`) are adopted
//!    first, before anything else in the process opens a descriptor, so a
//!    number can only name what was inherited; then what an inherited
//!    socket's kind decides is checked (`config::by_kind`);
//! 2. then the server's TLS (a certificate loaded, or generated and perhaps
//!    saved) and the client's: a forwarder's upstream or `send` (trust and
//!    identity loaded, the proxy's name looked up).

use std::sync::Arc;

use crate::cli::config::{self, Client, Handler, Wanted};
use crate::error::Result;
use crate::event::Log;
use crate::handler::Spec;
use crate::send;
use crate::servers;
use crate::transport::{Listen, Opts, inherit, proxy::Proxy, tls};

/// A server, ready for its model: sockets adopted (or an address left for
/// `servers::setup` to bind), TLS and proxy made.
pub fn server(plan: config::Server) -> Result<servers::Config> {
    let mut plan = plan;
    let mut listen = match &plan.listen {
        Wanted::Bind(a) => Listen::Bind(a.clone()),
        Wanted::Inherit { which, udp, prints } => {
            let bound = inherit::adopt(which, &plan.opts, *udp, *prints)?;
            config::by_kind(&mut plan, bound.kind())?;
            Listen::Inherited(bound)
        }
    };
    let config::Server {
        tls,
        handler,
        mut opts,
        settings,
        ..
    } = plan;
    if let Some(spec) = tls {
        opts.tls_server = Some(Arc::new(tls::server(&spec)?));
    }
    if let Listen::Inherited(bound) = &mut listen {
        bound.set_opts(&opts);
    }
    let spec = match handler {
        Handler::Spec(spec) => spec,
        Handler::Forward(up) => {
            let config::Upstream {
                mut forward,
                client: c,
            } = *up;
            client(&mut forward.opts, c, &settings.log)?;
            Spec::Forward(forward.into())
        }
    };
    Ok(servers::Config {
        listen,
        opts,
        service: servers::Service { spec, settings },
    })
}

/// `send`, ready to run: its proxy and TLS made.
pub fn send(plan: config::Send) -> Result<send::Config> {
    let config::Send {
        mut config,
        client: c,
    } = plan;
    let log = config.plan.log.clone();
    client(&mut config.plan.opts, c, &log)?;
    Ok(config)
}

/// A client's proxy (its name looked up, once: it is the same for every
/// connection) and TLS, into the options its connections use.
fn client(opts: &mut Opts, c: Client, log: &Log) -> Result<()> {
    if let Some(url) = c.proxy {
        opts.proxy = Some(Arc::new(Proxy::new(url, opts.family)?));
    }
    if let Some(spec) = c.tls {
        opts.tls_client = Some(Arc::new(tls::client(&spec)?));
        if spec.insecure {
            log.warning(config::INSECURE);
        }
    }
    Ok(())
}
