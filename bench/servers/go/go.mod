module websock.dev/bench/servers/go

go 1.21

require websock.dev/go/websock v0.0.0

replace websock.dev/go/websock => ../../../bindings-go
