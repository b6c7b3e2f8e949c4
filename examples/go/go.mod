module websock.dev/examples/go

go 1.21

require websock.dev/go/websock v0.0.0

require github.com/gorilla/websocket v1.5.3

replace websock.dev/go/websock => ../../bindings-go
