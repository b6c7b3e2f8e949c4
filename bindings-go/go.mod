module websock.dev/go/websock

go 1.21
