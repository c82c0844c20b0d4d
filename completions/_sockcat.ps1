
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'sockcat' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'sockcat'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'sockcat' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve many connections from one thread and one event loop')
            [CompletionResult]::new('fork-serve', 'fork-serve', [CompletionResultType]::ParameterValue, 'Serve each connection (or datagram) in a child process')
            [CompletionResult]::new('thread-serve', 'thread-serve', [CompletionResultType]::ParameterValue, 'Serve each connection (or datagram) in a thread')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Connect, send a message or stdin, print the reply')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sockcat;serve' {
            [CompletionResult]::new('--stall-timeout', '--stall-timeout', [CompletionResultType]::ParameterName, 'Drop a peer that has not read for DUR while it holds the others back (the stdin relay, --broker); a peer alone is waited for')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Serve N connections (datagrams for UDP), then exit')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'With --forward: give up connecting to ADDR after DUR [default: 10s]')
            [CompletionResult]::new('--half-close-timeout', '--half-close-timeout', [CompletionResultType]::ParameterName, 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)')
            [CompletionResult]::new('--backlog', '--backlog', [CompletionResultType]::ParameterName, 'Length of the listen backlog')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permissions of a Unix socket file, in octal (600, 0660)')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat''s options go before it. A quoted command line (''cat -n'') is split on whitespace, as ncat does (no shell), when it is the only word')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'Like --exec, through /bin/sh -c CMDLINE')
            [CompletionResult]::new('--forward', '--forward', [CompletionResultType]::ParameterName, 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second''s worth unless :BURST says (1M:256k)')
            [CompletionResult]::new('--cut-after', '--cut-after', [CompletionResultType]::ParameterName, 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream')
            [CompletionResult]::new('--reset-after', '--reset-after', [CompletionResultType]::ParameterName, 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)')
            [CompletionResult]::new('--fault-dir', '--fault-dir', [CompletionResultType]::ParameterName, 'With a fault: the way it acts: up (the client''s bytes to the upstream), down, or both')
            [CompletionResult]::new('--fault-fraction', '--fault-fraction', [CompletionResultType]::ParameterName, 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'The server''s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)')
            [CompletionResult]::new('--save-cert', '--save-cert', [CompletionResultType]::ParameterName, 'Write the generated certificate to FILE, for the next start''s --cert (with --save-key)')
            [CompletionResult]::new('--save-key', '--save-key', [CompletionResultType]::ParameterName, 'Write the generated key to FILE (mode 600), for the next start''s --key')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'Require a client certificate signed by a CA in FILE (mutual TLS)')
            [CompletionResult]::new('--alpn', '--alpn', [CompletionResultType]::ParameterName, 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system''s')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)')
            [CompletionResult]::new('--sni', '--sni', [CompletionResultType]::ParameterName, 'With --forward tls://...: the name to ask for and verify, instead of the address''s host')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the events written to stderr')
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Relay what each client sends to every other client (chat)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Serve one connection (one datagram for UDP), then exit')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send back every byte received; pass the peer''s FIN on after the echo drains')
            [CompletionResult]::new('--discard', '--discard', [CompletionResultType]::ParameterName, 'Read and count the bytes, print nothing')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'With --forward tls://...: do not verify the upstream''s certificate (says so on stderr)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Turn on TCP keepalive probes')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Turn off Nagle''s algorithm (TCP_NODELAY); --forward always does, on both sides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sockcat;fork-serve' {
            [CompletionResult]::new('--max-children', '--max-children', [CompletionResultType]::ParameterName, 'Run at most N children at once; more connections wait in the backlog [default: 256, or the user''s process limit (ulimit -u) if lower]')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Serve N connections (datagrams for UDP), then exit')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'With --forward: give up connecting to ADDR after DUR [default: 10s]')
            [CompletionResult]::new('--half-close-timeout', '--half-close-timeout', [CompletionResultType]::ParameterName, 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)')
            [CompletionResult]::new('--backlog', '--backlog', [CompletionResultType]::ParameterName, 'Length of the listen backlog')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permissions of a Unix socket file, in octal (600, 0660)')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat''s options go before it. A quoted command line (''cat -n'') is split on whitespace, as ncat does (no shell), when it is the only word')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'Like --exec, through /bin/sh -c CMDLINE')
            [CompletionResult]::new('--forward', '--forward', [CompletionResultType]::ParameterName, 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second''s worth unless :BURST says (1M:256k)')
            [CompletionResult]::new('--cut-after', '--cut-after', [CompletionResultType]::ParameterName, 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream')
            [CompletionResult]::new('--reset-after', '--reset-after', [CompletionResultType]::ParameterName, 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)')
            [CompletionResult]::new('--fault-dir', '--fault-dir', [CompletionResultType]::ParameterName, 'With a fault: the way it acts: up (the client''s bytes to the upstream), down, or both')
            [CompletionResult]::new('--fault-fraction', '--fault-fraction', [CompletionResultType]::ParameterName, 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'The server''s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)')
            [CompletionResult]::new('--save-cert', '--save-cert', [CompletionResultType]::ParameterName, 'Write the generated certificate to FILE, for the next start''s --cert (with --save-key)')
            [CompletionResult]::new('--save-key', '--save-key', [CompletionResultType]::ParameterName, 'Write the generated key to FILE (mode 600), for the next start''s --key')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'Require a client certificate signed by a CA in FILE (mutual TLS)')
            [CompletionResult]::new('--alpn', '--alpn', [CompletionResultType]::ParameterName, 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system''s')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)')
            [CompletionResult]::new('--sni', '--sni', [CompletionResultType]::ParameterName, 'With --forward tls://...: the name to ask for and verify, instead of the address''s host')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the events written to stderr')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Serve one connection (one datagram for UDP), then exit')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send back every byte received; pass the peer''s FIN on after the echo drains')
            [CompletionResult]::new('--discard', '--discard', [CompletionResultType]::ParameterName, 'Read and count the bytes, print nothing')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'With --forward tls://...: do not verify the upstream''s certificate (says so on stderr)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Turn on TCP keepalive probes')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Turn off Nagle''s algorithm (TCP_NODELAY); --forward always does, on both sides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sockcat;thread-serve' {
            [CompletionResult]::new('--max-threads', '--max-threads', [CompletionResultType]::ParameterName, 'Run at most N connection threads at once; more connections wait in the backlog')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Serve N connections (datagrams for UDP), then exit')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'With --forward: give up connecting to ADDR after DUR [default: 10s]')
            [CompletionResult]::new('--half-close-timeout', '--half-close-timeout', [CompletionResultType]::ParameterName, 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)')
            [CompletionResult]::new('--backlog', '--backlog', [CompletionResultType]::ParameterName, 'Length of the listen backlog')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permissions of a Unix socket file, in octal (600, 0660)')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat''s options go before it. A quoted command line (''cat -n'') is split on whitespace, as ncat does (no shell), when it is the only word')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'Like --exec, through /bin/sh -c CMDLINE')
            [CompletionResult]::new('--forward', '--forward', [CompletionResultType]::ParameterName, 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second''s worth unless :BURST says (1M:256k)')
            [CompletionResult]::new('--cut-after', '--cut-after', [CompletionResultType]::ParameterName, 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream')
            [CompletionResult]::new('--reset-after', '--reset-after', [CompletionResultType]::ParameterName, 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)')
            [CompletionResult]::new('--fault-dir', '--fault-dir', [CompletionResultType]::ParameterName, 'With a fault: the way it acts: up (the client''s bytes to the upstream), down, or both')
            [CompletionResult]::new('--fault-fraction', '--fault-fraction', [CompletionResultType]::ParameterName, 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'The server''s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)')
            [CompletionResult]::new('--save-cert', '--save-cert', [CompletionResultType]::ParameterName, 'Write the generated certificate to FILE, for the next start''s --cert (with --save-key)')
            [CompletionResult]::new('--save-key', '--save-key', [CompletionResultType]::ParameterName, 'Write the generated key to FILE (mode 600), for the next start''s --key')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'Require a client certificate signed by a CA in FILE (mutual TLS)')
            [CompletionResult]::new('--alpn', '--alpn', [CompletionResultType]::ParameterName, 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system''s')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)')
            [CompletionResult]::new('--sni', '--sni', [CompletionResultType]::ParameterName, 'With --forward tls://...: the name to ask for and verify, instead of the address''s host')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the events written to stderr')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Serve one connection (one datagram for UDP), then exit')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'netcat''s -k (keep listening): sockcat''s servers do so anyway')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send back every byte received; pass the peer''s FIN on after the echo drains')
            [CompletionResult]::new('--discard', '--discard', [CompletionResultType]::ParameterName, 'Read and count the bytes, print nothing')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'With --forward tls://...: do not verify the upstream''s certificate (says so on stderr)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Turn on TCP keepalive probes')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Turn off Nagle''s algorithm (TCP_NODELAY); --forward always does, on both sides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sockcat;send' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the contents of PATH instead of stdin')
            [CompletionResult]::new('--hold', '--hold', [CompletionResultType]::ParameterName, 'After the input ends, keep the write side open (no half-close) and end, exit 0, once the peer has sent nothing for DUR (nc''s -q SECS, socat''s -t): for peers and proxies that end the whole connection at a half-close; the peer''s close still ends it sooner. Unlike nc''s fixed delay it waits while the peer keeps talking: --wait bounds the whole time after the input. Datagrams: the same as --wait')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After the input ends, wait at most DUR for the reply [UDP default: 1s]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting after DUR (-w, as in ncat): the whole attempt, over all of a name''s addresses, which are tried Happy Eyeballs style (IPv6 first, the next 250ms after the last)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Give up after DUR with no traffic in either direction')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (names resolved here), socks5h:// (names resolved by the proxy) or http:// (CONNECT); --connect-timeout bounds reaching it and its answer [default: 30s]')
            [CompletionResult]::new('--retry', '--retry', [CompletionResultType]::ParameterName, 'Keep trying to connect for up to DUR (until the server is up)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Local address and/or port to connect from (HOST:PORT, :PORT, HOST)')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Load mode: repeat the whole exchange N times and print a summary')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Load mode: repeat the exchange for DUR and report the rate inside that window')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Load mode with --duration: run exchanges for DUR first and leave them out of the figures')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Load mode: run C exchanges in parallel; a scan (-z with several ports): probe C ports at once [default: 1; a scan: 64]')
            [CompletionResult]::new('--scan-timeout', '--scan-timeout', [CompletionResultType]::ParameterName, 'A scan (-z with several ports): give up on the ports not yet probed after DUR')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Connect, then run PROG with the connection as its stdin and stdout (ncat''s -e, socat''s EXEC:); takes the rest of the line, so the address goes before it. sockcat exits with the program''s status')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'Like --exec, through /bin/sh -c CMDLINE')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the CA (or self-signed) certificates in FILE instead of the system''s')
            [CompletionResult]::new('--pin', '--pin', [CompletionResultType]::ParameterName, 'Accept exactly the certificate (sha256:..., as a sockcat server prints it) or key (spki-sha256:... or curl''s sha256//BASE64) with this fingerprint (repeatable)')
            [CompletionResult]::new('--sni', '--sni', [CompletionResultType]::ParameterName, 'The name to ask for (SNI) and verify, instead of the address''s host')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A client certificate chain to present (PEM), for mutual TLS')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key of --cert (PEM)')
            [CompletionResult]::new('--alpn', '--alpn', [CompletionResultType]::ParameterName, 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the events written to stderr')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Do not add a newline to the MESSAGE words')
            [CompletionResult]::new('--no-shutdown', '--no-shutdown', [CompletionResultType]::ParameterName, 'Keep the write side open after the input ends')
            [CompletionResult]::new('-z', '-z', [CompletionResultType]::ParameterName, 'Only check that the port accepts connections, then close; with several ports (20-30,443), scan them; one line per port on stdout (127.0.0.1:22 open)')
            [CompletionResult]::new('--probe', '--probe', [CompletionResultType]::ParameterName, 'Only check that the port accepts connections, then close; with several ports (20-30,443), scan them; one line per port on stdout (127.0.0.1:22 open)')
            [CompletionResult]::new('--open', '--open', [CompletionResultType]::ParameterName, 'With -z: print only the ports that are open (no line for the others; the exit status still tells)')
            [CompletionResult]::new('--crlf', '--crlf', [CompletionResultType]::ParameterName, 'Send CRLF line endings instead of LF (-C, as in nc)')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'netcat''s -N (shut down after the input''s end): sockcat does so anyway')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr even when it is not a terminal')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never show a progress bar')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Speak TLS to the TCP or Unix stream address (tls://HOST:PORT says the same)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server''s certificate (says so on stderr)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log more: a closing line per connection and a summary on exit')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Log nothing but errors')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Use UDP (or a Unix datagram socket with -U)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Read the address as a Unix socket path')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Turn on TCP keepalive probes')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Turn off Nagle''s algorithm (TCP_NODELAY); --forward always does, on both sides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'sockcat;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve many connections from one thread and one event loop')
            [CompletionResult]::new('fork-serve', 'fork-serve', [CompletionResultType]::ParameterValue, 'Serve each connection (or datagram) in a child process')
            [CompletionResult]::new('thread-serve', 'thread-serve', [CompletionResultType]::ParameterValue, 'Serve each connection (or datagram) in a thread')
            [CompletionResult]::new('send', 'send', [CompletionResultType]::ParameterValue, 'Connect, send a message or stdin, print the reply')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sockcat;help;serve' {
            break
        }
        'sockcat;help;fork-serve' {
            break
        }
        'sockcat;help;thread-serve' {
            break
        }
        'sockcat;help;send' {
            break
        }
        'sockcat;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
