//! Integration tests: the real binary over loopback and temporary
//! directories, port 0, readiness lines, timeouts on every wait.

mod util;

mod activation;
mod bad_input;
mod bench;
mod bulk;
mod control;
mod datagram;
mod demo;
mod dgram_faults;
mod extras;
mod faults;
mod forward;
mod generated;
mod handlers;
mod hardening;
mod hold;
mod inetd;
mod lingering;
mod load;
mod models;
mod options;
mod programs;
mod properties;
mod proxy;
mod proxy_protocol;
mod relay;
mod scan;
mod send_exec;
mod tls;
mod unix;
mod ws;
