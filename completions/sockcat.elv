
use builtin;
use str;

set edit:completion:arg-completer[sockcat] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'sockcat'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'sockcat'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Serve many connections from one thread and one event loop'
            cand fork-serve 'Serve each connection (or datagram) in a child process'
            cand thread-serve 'Serve each connection (or datagram) in a thread'
            cand send 'Connect, send a message or stdin, print the reply'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sockcat;serve'= {
            cand --stall-timeout 'Drop a peer that has not read for DUR while it holds the others back (the stdin relay, --broker); a peer alone is waited for'
            cand --count 'Serve N connections (datagrams for UDP), then exit'
            cand --max-conns 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)'
            cand --idle-timeout 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]'
            cand --connect-timeout 'With --forward: give up connecting to ADDR after DUR [default: 10s]'
            cand --proxy 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)'
            cand --backlog 'Length of the listen backlog'
            cand --grace 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR'
            cand --allow 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)'
            cand --deny 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)'
            cand --mode 'Permissions of a Unix socket file, in octal (600, 0660)'
            cand --reply 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed'
            cand --exec 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address goes before it. One quoted word with spaces is split on whitespace, as ncat does (no shell)'
            cand --sh-exec 'Like --exec, through /bin/sh -c CMDLINE'
            cand --forward 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own'
            cand --log-format 'Format of the events written to stderr'
            cand --broker 'Relay what each client sends to every other client (chat)'
            cand --once 'Serve one connection (one datagram for UDP), then exit'
            cand -k 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --keep-open 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --echo 'Send back every byte received; pass the peer''s FIN on after the echo drains'
            cand --discard 'Read and count the bytes, print nothing'
            cand -v 'Log more: a closing line per connection and a summary on exit'
            cand --verbose 'Log more: a closing line per connection and a summary on exit'
            cand -q 'Log nothing but errors'
            cand --quiet 'Log nothing but errors'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand -u 'Use UDP (or a Unix datagram socket with -U)'
            cand --udp 'Use UDP (or a Unix datagram socket with -U)'
            cand -U 'Read the address as a Unix socket path'
            cand --unix 'Read the address as a Unix socket path'
            cand --hex 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
            cand --keepalive 'Turn on TCP keepalive probes'
            cand --nodelay 'Turn off Nagle''s algorithm (TCP_NODELAY)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sockcat;fork-serve'= {
            cand --max-children 'Run at most N children at once; more connections wait in the backlog'
            cand --count 'Serve N connections (datagrams for UDP), then exit'
            cand --max-conns 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)'
            cand --idle-timeout 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]'
            cand --connect-timeout 'With --forward: give up connecting to ADDR after DUR [default: 10s]'
            cand --proxy 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)'
            cand --backlog 'Length of the listen backlog'
            cand --grace 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR'
            cand --allow 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)'
            cand --deny 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)'
            cand --mode 'Permissions of a Unix socket file, in octal (600, 0660)'
            cand --reply 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed'
            cand --exec 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address goes before it. One quoted word with spaces is split on whitespace, as ncat does (no shell)'
            cand --sh-exec 'Like --exec, through /bin/sh -c CMDLINE'
            cand --forward 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own'
            cand --log-format 'Format of the events written to stderr'
            cand --once 'Serve one connection (one datagram for UDP), then exit'
            cand -k 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --keep-open 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --echo 'Send back every byte received; pass the peer''s FIN on after the echo drains'
            cand --discard 'Read and count the bytes, print nothing'
            cand -v 'Log more: a closing line per connection and a summary on exit'
            cand --verbose 'Log more: a closing line per connection and a summary on exit'
            cand -q 'Log nothing but errors'
            cand --quiet 'Log nothing but errors'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand -u 'Use UDP (or a Unix datagram socket with -U)'
            cand --udp 'Use UDP (or a Unix datagram socket with -U)'
            cand -U 'Read the address as a Unix socket path'
            cand --unix 'Read the address as a Unix socket path'
            cand --hex 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
            cand --keepalive 'Turn on TCP keepalive probes'
            cand --nodelay 'Turn off Nagle''s algorithm (TCP_NODELAY)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sockcat;thread-serve'= {
            cand --max-threads 'Run at most N connection threads at once; more connections wait in the backlog'
            cand --count 'Serve N connections (datagrams for UDP), then exit'
            cand --max-conns 'Serve at most N connections at once; more wait in the backlog (with --max-children or --max-threads, the smaller bound applies)'
            cand --idle-timeout 'Close a connection after DUR with no traffic (500ms, 5s, 2m) [a forwarded datagram session: 60s]'
            cand --connect-timeout 'With --forward: give up connecting to ADDR after DUR [default: 10s]'
            cand --proxy 'With --forward: reach ADDR through a proxy: socks5://[USER:PASS@]HOST[:PORT], socks5h:// (the proxy resolves names) or http:// (CONNECT)'
            cand --backlog 'Length of the listen backlog'
            cand --grace 'On Ctrl-C or SIGTERM, let open connections finish for up to DUR'
            cand --allow 'Accept only peers in CIDR, or Unix clients of uid:N (repeatable)'
            cand --deny 'Refuse peers in CIDR, or Unix clients of uid:N (repeatable; wins over --allow)'
            cand --mode 'Permissions of a Unix socket file, in octal (600, 0660)'
            cand --reply 'Send TEXT and a newline at once, then shut the write side; the peer''s bytes are still printed'
            cand --exec 'Run PROG with the connection as its stdin and stdout (no shell); takes the rest of the line, so the address goes before it. One quoted word with spaces is split on whitespace, as ncat does (no shell)'
            cand --sh-exec 'Like --exec, through /bin/sh -c CMDLINE'
            cand --forward 'Connect to ADDR for each connection (each peer''s session on a datagram socket) and relay bytes both ways; each side''s FIN travels on its own'
            cand --log-format 'Format of the events written to stderr'
            cand --once 'Serve one connection (one datagram for UDP), then exit'
            cand -k 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --keep-open 'netcat''s -k (keep listening): sockcat''s servers do so anyway'
            cand --echo 'Send back every byte received; pass the peer''s FIN on after the echo drains'
            cand --discard 'Read and count the bytes, print nothing'
            cand -v 'Log more: a closing line per connection and a summary on exit'
            cand --verbose 'Log more: a closing line per connection and a summary on exit'
            cand -q 'Log nothing but errors'
            cand --quiet 'Log nothing but errors'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand -u 'Use UDP (or a Unix datagram socket with -U)'
            cand --udp 'Use UDP (or a Unix datagram socket with -U)'
            cand -U 'Read the address as a Unix socket path'
            cand --unix 'Read the address as a Unix socket path'
            cand --hex 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
            cand --keepalive 'Turn on TCP keepalive probes'
            cand --nodelay 'Turn off Nagle''s algorithm (TCP_NODELAY)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sockcat;send'= {
            cand --file 'Send the contents of PATH instead of stdin'
            cand --wait 'After the input ends, wait at most DUR for the reply [UDP default: 1s]'
            cand --connect-timeout 'Give up connecting after DUR (-w, as in ncat): the whole attempt, over all of a name''s addresses, which are tried Happy Eyeballs style (IPv6 first, the next 250ms after the last)'
            cand --idle-timeout 'Give up after DUR with no traffic in either direction'
            cand --proxy 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (names resolved here), socks5h:// (names resolved by the proxy) or http:// (CONNECT); --connect-timeout bounds reaching it and its answer [default: 30s]'
            cand --retry 'Keep trying to connect for up to DUR (until the server is up)'
            cand --source 'Local address and/or port to connect from (HOST:PORT, :PORT, HOST)'
            cand --count 'Load mode: repeat the whole exchange N times and print a summary'
            cand --duration 'Load mode: repeat the exchange for DUR and report the rate inside that window'
            cand --warmup 'Load mode with --duration: run exchanges for DUR first and leave them out of the figures'
            cand --concurrency 'Load mode: run C exchanges in parallel; a scan (-z with several ports): probe C ports at once [default: 1; a scan: 64]'
            cand --scan-timeout 'A scan (-z with several ports): give up on the ports not yet probed after DUR'
            cand --log-format 'Format of the events written to stderr'
            cand -n 'Do not add a newline to the MESSAGE words'
            cand --no-shutdown 'Keep the write side open after the input ends'
            cand -z 'Only check that the port accepts connections, then close; with several ports (20-30,443), scan them'
            cand --probe 'Only check that the port accepts connections, then close; with several ports (20-30,443), scan them'
            cand --crlf 'Send CRLF line endings instead of LF (-C, as in nc)'
            cand -N 'netcat''s -N (shut down after the input''s end): sockcat does so anyway'
            cand --progress 'Show a progress bar on stderr even when it is not a terminal'
            cand --no-progress 'Never show a progress bar'
            cand -v 'Log more: a closing line per connection and a summary on exit'
            cand --verbose 'Log more: a closing line per connection and a summary on exit'
            cand -q 'Log nothing but errors'
            cand --quiet 'Log nothing but errors'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand -u 'Use UDP (or a Unix datagram socket with -U)'
            cand --udp 'Use UDP (or a Unix datagram socket with -U)'
            cand -U 'Read the address as a Unix socket path'
            cand --unix 'Read the address as a Unix socket path'
            cand --hex 'Hex dump every byte sent and received to stderr, each block headed by [PEER] (JSON events with --log-format json)'
            cand --keepalive 'Turn on TCP keepalive probes'
            cand --nodelay 'Turn off Nagle''s algorithm (TCP_NODELAY)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'sockcat;help'= {
            cand serve 'Serve many connections from one thread and one event loop'
            cand fork-serve 'Serve each connection (or datagram) in a child process'
            cand thread-serve 'Serve each connection (or datagram) in a thread'
            cand send 'Connect, send a message or stdin, print the reply'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sockcat;help;serve'= {
        }
        &'sockcat;help;fork-serve'= {
        }
        &'sockcat;help;thread-serve'= {
        }
        &'sockcat;help;send'= {
        }
        &'sockcat;help;help'= {
        }
    ]
    $completions[$command]
}
