# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sockcat_global_optspecs
    string join \n h/help V/version
end

function __fish_sockcat_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sockcat_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sockcat_using_subcommand
    set -l cmd (__fish_sockcat_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sockcat -n "__fish_sockcat_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockcat -n "__fish_sockcat_needs_command" -s V -l version -d 'Print version'
complete -c sockcat -n "__fish_sockcat_needs_command" -f -a "serve" -d 'Serve many connections from one thread and one event loop'
complete -c sockcat -n "__fish_sockcat_needs_command" -f -a "fork-serve" -d 'Serve each connection (or datagram) in a child process'
complete -c sockcat -n "__fish_sockcat_needs_command" -f -a "thread-serve" -d 'Serve each connection (or datagram) in a thread'
complete -c sockcat -n "__fish_sockcat_needs_command" -f -a "send" -d 'Connect, send a message or stdin, print the reply'
complete -c sockcat -n "__fish_sockcat_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l stall-timeout -d 'Drop a peer that has not read for DUR while it holds the others back (the stdin relay, --broker); a peer alone is waited for' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l count -d 'Serve N connections (datagrams for UDP), then exit' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l max-conns -d 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l idle-timeout -d 'Close a connection after DUR with no traffic (500ms, 5s, 2m); its --exec program is stopped (SIGTERM, then SIGKILL 2s later) [a forwarded datagram session: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l connect-timeout -d 'With --forward: give up connecting to ADDR after DUR [default: 10s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l half-close-timeout -d 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l proxy -d 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)' -r -f
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l backlog -d 'Length of the listen backlog' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l grace -d 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l allow -d 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l deny -d 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l mode -d 'Permissions of a Unix socket file, in octal (600, 0660)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l reply -d 'Send TEXT and a newline at once, then shut the write side; the peer\'s bytes are still printed' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l exec -d 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat\'s options go before it. A quoted command line (\'cat -n\') is split on whitespace, as ncat does (no shell), when it is the only word' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l sh-exec -d 'Like --exec, through /bin/sh -c CMDLINE' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l forward -d 'Connect to ADDR for each connection (each peer\'s session on a datagram socket) and relay bytes both ways; each side\'s FIN travels on its own' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l rate -d 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second\'s worth unless :BURST says (1M:256k)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l cut-after -d 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l reset-after -d 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l delay -d 'With --forward: hold every chunk (on a datagram forward, every datagram) each way --fault-dir names for DUR (200ms), or for DUR plus or minus up to JITTER drawn per chunk (200ms~50ms, --seed repeats the draws); a stream\'s bytes keep their order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l slice -d 'With --forward: write each way --fault-dir names to its destination in pieces of at most BYTES (100, 1k), DUR apart if given (100/1ms); every byte arrives, in order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l slow-close -d 'With --forward: hold the end of each way --fault-dir names (the FIN) for DUR before passing it on' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l blackhole -d 'With --forward: drop every byte each way --fault-dir names (the sender\'s writes go through, the peer gets nothing; an end still passes), for good, or for DUR (--blackhole=2s: the = is needed) from the connection\'s start, then close both sides (toxiproxy\'s timeout)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l refuse -d 'With --forward: reset a fraction F (0 to 1) of new connections at once, chosen per connection (--seed repeats the choice); those get no other fault' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l loss -d 'With a datagram --forward (udp, unixgram): drop each datagram each way --fault-dir names with probability P (0 to 1), drawn per datagram (--seed repeats which)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l duplicate -d 'With a datagram --forward: send each datagram twice with probability P (0 to 1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l reorder -d 'With a datagram --forward: hold a datagram back with probability P (0 to 1) until the next one has gone (or 50ms have passed)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l fault-dir -d 'With a fault: the way it acts: up (the client\'s bytes to the upstream), down, or both' -r -f -a "up\t'The client\'s bytes to the upstream'
down\t'The upstream\'s bytes to the client'
both\t'Both ways'"
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l fault-fraction -d 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l control -d 'With --forward: change the faults while the server runs, through a Unix socket made at PATH (mode 0600): one JSON object a line, such as {"op":"add","fault":"delay","value":"200ms"} (see FAULTS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l seed -d 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l cert -d 'The server\'s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l key -d 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l save-cert -d 'Write the generated certificate to FILE, for the next start\'s --cert (with --save-key)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l save-key -d 'Write the generated key to FILE (mode 600), for the next start\'s --key' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l client-ca -d 'Require a client certificate signed by a CA in FILE (mutual TLS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l alpn -d 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l cacert -d 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system\'s' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l pin -d 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l sni -d 'With --forward tls://...: the name to ask for and verify, instead of the address\'s host' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l allow-origin -d 'A ws:// or wss:// server: accept only clients whose Origin header is ORIGIN (repeatable; others get 403)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l ws-protocol -d 'ws:// and wss://: the subprotocol to offer (send, --forward) or to choose when a client offers it (a server)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l send-proxy -d 'With --forward: begin each upstream connection with a PROXY protocol header (v1 text, v2 binary) naming the client and the address it connected to, as HAProxy\'s send-proxy does (before TLS, inside a --proxy tunnel; a Unix client: v1 UNKNOWN, v2 LOCAL). Stream upstreams only' -r -f -a "v1\t'The text line (PROXY TCP4 ...)'
v2\t'The binary header'"
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l proxy-from -d 'With --proxy-protocol: take the header only from peers in CIDR, or Unix clients of uid:N (repeatable, or comma-separated); others are refused [default: 127.0.0.0/8,::1 and the server\'s own uid: a balancer on this host]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l log-format -d 'Format of the events written to stderr' -r -f -a "text\t'One readable line per event'
json\t'One JSON object per line'"
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l broker -d 'Relay what each client sends to every other client (chat)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l once -d 'Serve one connection (one datagram for UDP), then exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s k -l keep-open -d 'netcat\'s -k (keep listening): sockcat\'s servers do so anyway'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l echo -d 'Send back every byte received; pass the peer\'s FIN on after the echo drains'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l discard -d 'Read and count the bytes, print nothing'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l tls -d 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l insecure -d 'With --forward tls://...: do not verify the upstream\'s certificate (says so on stderr)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l binary -d 'ws:// and wss://: send each read as one binary message, not each line as a text message'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l proxy-protocol -d 'Require a PROXY protocol header (v1 or v2, told apart) before each connection\'s first byte (and before TLS): its source is the peer in events, --allow/--deny and SOCKCAT_PEER_*. A connection without a valid one within 5s is refused. Stream servers only'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s v -l verbose -d 'Log more: a closing line per connection and a summary on exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s q -l quiet -d 'Log nothing but errors'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s 4 -d 'Use IPv4 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s 6 -d 'Use IPv6 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s u -l udp -d 'Use UDP (or a Unix datagram socket with -U)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s U -l unix -d 'Read the address as a Unix socket path'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l hex -d 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l keepalive -d 'Turn on TCP keepalive probes'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -l nodelay -d 'Turn off Nagle\'s algorithm (TCP_NODELAY); --forward always does, on both sides'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockcat -n "__fish_sockcat_using_subcommand serve" -s V -l version -d 'Print version'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l max-children -d 'Run at most N children at once; more connections wait in the backlog [default: 256, or the user\'s process limit (ulimit -u) if lower]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l count -d 'Serve N connections (datagrams for UDP), then exit' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l max-conns -d 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l idle-timeout -d 'Close a connection after DUR with no traffic (500ms, 5s, 2m); its --exec program is stopped (SIGTERM, then SIGKILL 2s later) [a forwarded datagram session: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l connect-timeout -d 'With --forward: give up connecting to ADDR after DUR [default: 10s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l half-close-timeout -d 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l proxy -d 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)' -r -f
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l backlog -d 'Length of the listen backlog' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l grace -d 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l allow -d 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l deny -d 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l mode -d 'Permissions of a Unix socket file, in octal (600, 0660)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l reply -d 'Send TEXT and a newline at once, then shut the write side; the peer\'s bytes are still printed' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l exec -d 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat\'s options go before it. A quoted command line (\'cat -n\') is split on whitespace, as ncat does (no shell), when it is the only word' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l sh-exec -d 'Like --exec, through /bin/sh -c CMDLINE' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l forward -d 'Connect to ADDR for each connection (each peer\'s session on a datagram socket) and relay bytes both ways; each side\'s FIN travels on its own' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l rate -d 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second\'s worth unless :BURST says (1M:256k)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l cut-after -d 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l reset-after -d 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l delay -d 'With --forward: hold every chunk (on a datagram forward, every datagram) each way --fault-dir names for DUR (200ms), or for DUR plus or minus up to JITTER drawn per chunk (200ms~50ms, --seed repeats the draws); a stream\'s bytes keep their order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l slice -d 'With --forward: write each way --fault-dir names to its destination in pieces of at most BYTES (100, 1k), DUR apart if given (100/1ms); every byte arrives, in order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l slow-close -d 'With --forward: hold the end of each way --fault-dir names (the FIN) for DUR before passing it on' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l blackhole -d 'With --forward: drop every byte each way --fault-dir names (the sender\'s writes go through, the peer gets nothing; an end still passes), for good, or for DUR (--blackhole=2s: the = is needed) from the connection\'s start, then close both sides (toxiproxy\'s timeout)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l refuse -d 'With --forward: reset a fraction F (0 to 1) of new connections at once, chosen per connection (--seed repeats the choice); those get no other fault' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l loss -d 'With a datagram --forward (udp, unixgram): drop each datagram each way --fault-dir names with probability P (0 to 1), drawn per datagram (--seed repeats which)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l duplicate -d 'With a datagram --forward: send each datagram twice with probability P (0 to 1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l reorder -d 'With a datagram --forward: hold a datagram back with probability P (0 to 1) until the next one has gone (or 50ms have passed)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l fault-dir -d 'With a fault: the way it acts: up (the client\'s bytes to the upstream), down, or both' -r -f -a "up\t'The client\'s bytes to the upstream'
down\t'The upstream\'s bytes to the client'
both\t'Both ways'"
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l fault-fraction -d 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l control -d 'With --forward: change the faults while the server runs, through a Unix socket made at PATH (mode 0600): one JSON object a line, such as {"op":"add","fault":"delay","value":"200ms"} (see FAULTS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l seed -d 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l cert -d 'The server\'s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l key -d 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l save-cert -d 'Write the generated certificate to FILE, for the next start\'s --cert (with --save-key)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l save-key -d 'Write the generated key to FILE (mode 600), for the next start\'s --key' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l client-ca -d 'Require a client certificate signed by a CA in FILE (mutual TLS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l alpn -d 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l cacert -d 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system\'s' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l pin -d 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l sni -d 'With --forward tls://...: the name to ask for and verify, instead of the address\'s host' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l allow-origin -d 'A ws:// or wss:// server: accept only clients whose Origin header is ORIGIN (repeatable; others get 403)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l ws-protocol -d 'ws:// and wss://: the subprotocol to offer (send, --forward) or to choose when a client offers it (a server)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l send-proxy -d 'With --forward: begin each upstream connection with a PROXY protocol header (v1 text, v2 binary) naming the client and the address it connected to, as HAProxy\'s send-proxy does (before TLS, inside a --proxy tunnel; a Unix client: v1 UNKNOWN, v2 LOCAL). Stream upstreams only' -r -f -a "v1\t'The text line (PROXY TCP4 ...)'
v2\t'The binary header'"
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l proxy-from -d 'With --proxy-protocol: take the header only from peers in CIDR, or Unix clients of uid:N (repeatable, or comma-separated); others are refused [default: 127.0.0.0/8,::1 and the server\'s own uid: a balancer on this host]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l log-format -d 'Format of the events written to stderr' -r -f -a "text\t'One readable line per event'
json\t'One JSON object per line'"
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l once -d 'Serve one connection (one datagram for UDP), then exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s k -l keep-open -d 'netcat\'s -k (keep listening): sockcat\'s servers do so anyway'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l echo -d 'Send back every byte received; pass the peer\'s FIN on after the echo drains'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l discard -d 'Read and count the bytes, print nothing'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l tls -d 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l insecure -d 'With --forward tls://...: do not verify the upstream\'s certificate (says so on stderr)'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l binary -d 'ws:// and wss://: send each read as one binary message, not each line as a text message'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l proxy-protocol -d 'Require a PROXY protocol header (v1 or v2, told apart) before each connection\'s first byte (and before TLS): its source is the peer in events, --allow/--deny and SOCKCAT_PEER_*. A connection without a valid one within 5s is refused. Stream servers only'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s v -l verbose -d 'Log more: a closing line per connection and a summary on exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s q -l quiet -d 'Log nothing but errors'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s 4 -d 'Use IPv4 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s 6 -d 'Use IPv6 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s u -l udp -d 'Use UDP (or a Unix datagram socket with -U)'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s U -l unix -d 'Read the address as a Unix socket path'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l hex -d 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l keepalive -d 'Turn on TCP keepalive probes'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -l nodelay -d 'Turn off Nagle\'s algorithm (TCP_NODELAY); --forward always does, on both sides'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockcat -n "__fish_sockcat_using_subcommand fork-serve" -s V -l version -d 'Print version'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l max-threads -d 'Run at most N connection threads at once; more connections wait in the backlog' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l count -d 'Serve N connections (datagrams for UDP), then exit' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l max-conns -d 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l idle-timeout -d 'Close a connection after DUR with no traffic (500ms, 5s, 2m); its --exec program is stopped (SIGTERM, then SIGKILL 2s later) [a forwarded datagram session: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l connect-timeout -d 'With --forward: give up connecting to ADDR after DUR [default: 10s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l half-close-timeout -d 'With --forward: once one direction has ended (a FIN came from one side), end the connection after DUR with nothing from the other [default: 60s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l proxy -d 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)' -r -f
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l backlog -d 'Length of the listen backlog' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l grace -d 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l allow -d 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l deny -d 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l mode -d 'Permissions of a Unix socket file, in octal (600, 0660)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l reply -d 'Send TEXT and a newline at once, then shut the write side; the peer\'s bytes are still printed' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l exec -d 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address and sockcat\'s options go before it. A quoted command line (\'cat -n\') is split on whitespace, as ncat does (no shell), when it is the only word' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l sh-exec -d 'Like --exec, through /bin/sh -c CMDLINE' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l forward -d 'Connect to ADDR for each connection (each peer\'s session on a datagram socket) and relay bytes both ways; each side\'s FIN travels on its own' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l rate -d 'With --forward: cap each forwarded stream connection at RATE bytes per second each way --fault-dir names (64k, 1M: k is 1024, M 1048576; /s may follow), with a burst of a tenth of a second\'s worth unless :BURST says (1M:256k)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l cut-after -d 'With --forward: end each way --fault-dir names with a FIN after BYTES (64k, 1M): the peer receives exactly BYTES, then the end of the stream' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l reset-after -d 'With --forward: reset the connection (both peers see a reset, no FIN) after BYTES each way --fault-dir names, or after DUR from its start (500ms, 2s; 10m is 10 MiB, say 10min)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l delay -d 'With --forward: hold every chunk (on a datagram forward, every datagram) each way --fault-dir names for DUR (200ms), or for DUR plus or minus up to JITTER drawn per chunk (200ms~50ms, --seed repeats the draws); a stream\'s bytes keep their order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l slice -d 'With --forward: write each way --fault-dir names to its destination in pieces of at most BYTES (100, 1k), DUR apart if given (100/1ms); every byte arrives, in order' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l slow-close -d 'With --forward: hold the end of each way --fault-dir names (the FIN) for DUR before passing it on' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l blackhole -d 'With --forward: drop every byte each way --fault-dir names (the sender\'s writes go through, the peer gets nothing; an end still passes), for good, or for DUR (--blackhole=2s: the = is needed) from the connection\'s start, then close both sides (toxiproxy\'s timeout)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l refuse -d 'With --forward: reset a fraction F (0 to 1) of new connections at once, chosen per connection (--seed repeats the choice); those get no other fault' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l loss -d 'With a datagram --forward (udp, unixgram): drop each datagram each way --fault-dir names with probability P (0 to 1), drawn per datagram (--seed repeats which)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l duplicate -d 'With a datagram --forward: send each datagram twice with probability P (0 to 1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l reorder -d 'With a datagram --forward: hold a datagram back with probability P (0 to 1) until the next one has gone (or 50ms have passed)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l fault-dir -d 'With a fault: the way it acts: up (the client\'s bytes to the upstream), down, or both' -r -f -a "up\t'The client\'s bytes to the upstream'
down\t'The upstream\'s bytes to the client'
both\t'Both ways'"
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l fault-fraction -d 'With a fault: the fraction of connections it applies to, from 0 to 1 (chosen per connection; the others are forwarded as they are)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l control -d 'With --forward: change the faults while the server runs, through a Unix socket made at PATH (mode 0600): one JSON object a line, such as {"op":"add","fault":"delay","value":"200ms"} (see FAULTS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l seed -d 'With a fault: where its random choices begin (which connections --fault-fraction picks): the same N, the same choices in every run' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l cert -d 'The server\'s certificate chain (PEM); without it a fresh self-signed one is made at start and its fingerprint printed' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l key -d 'The key of --cert (PEM: PKCS#8, SEC1 or RSA)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l save-cert -d 'Write the generated certificate to FILE, for the next start\'s --cert (with --save-key)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l save-key -d 'Write the generated key to FILE (mode 600), for the next start\'s --key' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l client-ca -d 'Require a client certificate signed by a CA in FILE (mutual TLS)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l alpn -d 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l cacert -d 'With --forward tls://...: trust the CA (or self-signed) certificates in FILE instead of the system\'s' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l pin -d 'With --forward tls://...: accept exactly the certificate (sha256:...) or key (spki-sha256:... or sha256//BASE64) with this fingerprint (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l sni -d 'With --forward tls://...: the name to ask for and verify, instead of the address\'s host' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l allow-origin -d 'A ws:// or wss:// server: accept only clients whose Origin header is ORIGIN (repeatable; others get 403)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l ws-protocol -d 'ws:// and wss://: the subprotocol to offer (send, --forward) or to choose when a client offers it (a server)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l send-proxy -d 'With --forward: begin each upstream connection with a PROXY protocol header (v1 text, v2 binary) naming the client and the address it connected to, as HAProxy\'s send-proxy does (before TLS, inside a --proxy tunnel; a Unix client: v1 UNKNOWN, v2 LOCAL). Stream upstreams only' -r -f -a "v1\t'The text line (PROXY TCP4 ...)'
v2\t'The binary header'"
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l proxy-from -d 'With --proxy-protocol: take the header only from peers in CIDR, or Unix clients of uid:N (repeatable, or comma-separated); others are refused [default: 127.0.0.0/8,::1 and the server\'s own uid: a balancer on this host]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l log-format -d 'Format of the events written to stderr' -r -f -a "text\t'One readable line per event'
json\t'One JSON object per line'"
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l once -d 'Serve one connection (one datagram for UDP), then exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s k -l keep-open -d 'netcat\'s -k (keep listening): sockcat\'s servers do so anyway'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l echo -d 'Send back every byte received; pass the peer\'s FIN on after the echo drains'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l discard -d 'Read and count the bytes, print nothing'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l tls -d 'Speak TLS on the TCP or Unix stream address (tls://HOST:PORT says the same)'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l insecure -d 'With --forward tls://...: do not verify the upstream\'s certificate (says so on stderr)'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l binary -d 'ws:// and wss://: send each read as one binary message, not each line as a text message'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l proxy-protocol -d 'Require a PROXY protocol header (v1 or v2, told apart) before each connection\'s first byte (and before TLS): its source is the peer in events, --allow/--deny and SOCKCAT_PEER_*. A connection without a valid one within 5s is refused. Stream servers only'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s v -l verbose -d 'Log more: a closing line per connection and a summary on exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s q -l quiet -d 'Log nothing but errors'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s 4 -d 'Use IPv4 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s 6 -d 'Use IPv6 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s u -l udp -d 'Use UDP (or a Unix datagram socket with -U)'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s U -l unix -d 'Read the address as a Unix socket path'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l hex -d 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l keepalive -d 'Turn on TCP keepalive probes'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -l nodelay -d 'Turn off Nagle\'s algorithm (TCP_NODELAY); --forward always does, on both sides'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockcat -n "__fish_sockcat_using_subcommand thread-serve" -s V -l version -d 'Print version'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l file -d 'Send the contents of PATH instead of stdin' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l hold -d 'After the input ends, keep the write side open (no half-close) and end, exit 0, once the peer has sent nothing for DUR (nc\'s -q SECS, socat\'s -t): for peers and proxies that end the whole connection at a half-close; the peer\'s close still ends it sooner. Unlike nc\'s fixed delay it waits while the peer keeps talking: --wait bounds the whole time after the input. Datagrams: the same as --wait' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l wait -d 'After the input ends, wait at most DUR for the reply [UDP default: 1s]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l connect-timeout -d 'Give up connecting after DUR (-w, as in ncat): the whole attempt, over all of a name\'s addresses, which are tried Happy Eyeballs style (IPv6 first, the next 250ms after the last)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l idle-timeout -d 'Give up after DUR with no traffic in either direction' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l proxy -d 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (names resolved here), socks5h:// (names resolved by the proxy) or http:// (CONNECT); --connect-timeout bounds reaching it and its answer [default: 30s]' -r -f
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l retry -d 'Keep trying to connect for up to DUR (until the server is up)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l source -d 'Local address and/or port to connect from (HOST:PORT, :PORT, HOST)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l count -d 'Load mode: repeat the whole exchange N times and print a summary' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l duration -d 'Load mode: repeat the exchange for DUR and report the rate inside that window' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l warmup -d 'Load mode with --duration: run exchanges for DUR first and leave them out of the figures' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l concurrency -d 'Load mode: run C exchanges in parallel; a scan (-z with several ports): probe C ports at once [default: 1; a scan: 64]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l scan-timeout -d 'A scan (-z with several ports): give up on the ports not yet probed after DUR' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l exec -d 'Connect, then run PROG with the connection as its stdin and stdout (ncat\'s -e, socat\'s EXEC:); takes the rest of the line, so the address goes before it. sockcat exits with the program\'s status' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l sh-exec -d 'Like --exec, through /bin/sh -c CMDLINE' -r -f -a "(__fish_complete_command)"
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l cacert -d 'Trust the CA (or self-signed) certificates in FILE instead of the system\'s' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l pin -d 'Accept exactly the certificate (sha256:..., as a sockcat server prints it) or key (spki-sha256:... or curl\'s sha256//BASE64) with this fingerprint (repeatable)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l sni -d 'The name to ask for (SNI) and verify, instead of the address\'s host' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l cert -d 'A client certificate chain to present (PEM), for mutual TLS' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l key -d 'The key of --cert (PEM)' -r -F
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l alpn -d 'The protocols to offer in ALPN, comma-separated (h2,http/1.1)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l ws-protocol -d 'ws:// and wss://: the subprotocol to offer (send, --forward) or to choose when a client offers it (a server)' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l send-proxy -d 'Begin the connection with a PROXY protocol header (v1 text, v2 binary), to test a server that requires one; it names this socket\'s own ends unless --proxy-source says otherwise' -r -f -a "v1\t'The text line (PROXY TCP4 ...)'
v2\t'The binary header'"
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l proxy-source -d 'With --send-proxy: the client address the header claims (to test a server\'s --allow/--deny) [default: the socket\'s own]' -r
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l log-format -d 'Format of the events written to stderr' -r -f -a "text\t'One readable line per event'
json\t'One JSON object per line'"
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s n -d 'Do not add a newline to the MESSAGE words'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l no-shutdown -d 'Keep the write side open after the input ends'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s z -l probe -d 'Only check that the port accepts connections, then close; with several ports (20-30,443), scan them; one line per port on stdout (127.0.0.1:22 open)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l open -d 'With -z: print only the ports that are open (no line for the others; the exit status still tells)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l crlf -d 'Send CRLF line endings instead of LF (-C, as in nc)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s N -d 'netcat\'s -N (shut down after the input\'s end): sockcat does so anyway'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l progress -d 'Show a progress bar on stderr even when it is not a terminal'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l no-progress -d 'Never show a progress bar'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l tls -d 'Speak TLS to the TCP or Unix stream address (tls://HOST:PORT says the same)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l insecure -d 'Do not verify the server\'s certificate (says so on stderr)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l binary -d 'ws:// and wss://: send each read as one binary message, not each line as a text message'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s v -l verbose -d 'Log more: a closing line per connection and a summary on exit'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s q -l quiet -d 'Log nothing but errors'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s 4 -d 'Use IPv4 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s 6 -d 'Use IPv6 addresses only'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s u -l udp -d 'Use UDP (or a Unix datagram socket with -U)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s U -l unix -d 'Read the address as a Unix socket path'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l hex -d 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l keepalive -d 'Turn on TCP keepalive probes'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -l nodelay -d 'Turn off Nagle\'s algorithm (TCP_NODELAY); --forward always does, on both sides'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sockcat -n "__fish_sockcat_using_subcommand send" -s V -l version -d 'Print version'
complete -c sockcat -n "__fish_sockcat_using_subcommand help; and not __fish_seen_subcommand_from serve fork-serve thread-serve send help" -f -a "serve" -d 'Serve many connections from one thread and one event loop'
complete -c sockcat -n "__fish_sockcat_using_subcommand help; and not __fish_seen_subcommand_from serve fork-serve thread-serve send help" -f -a "fork-serve" -d 'Serve each connection (or datagram) in a child process'
complete -c sockcat -n "__fish_sockcat_using_subcommand help; and not __fish_seen_subcommand_from serve fork-serve thread-serve send help" -f -a "thread-serve" -d 'Serve each connection (or datagram) in a thread'
complete -c sockcat -n "__fish_sockcat_using_subcommand help; and not __fish_seen_subcommand_from serve fork-serve thread-serve send help" -f -a "send" -d 'Connect, send a message or stdin, print the reply'
complete -c sockcat -n "__fish_sockcat_using_subcommand help; and not __fish_seen_subcommand_from serve fork-serve thread-serve send help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
