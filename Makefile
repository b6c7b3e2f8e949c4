# The two commands of the README:
#   make demo   the chat demo (rooms are tags) with its web page on http://127.0.0.1:8080
#   make test   every test suite of every language (what .ci/run runs)
.PHONY: demo test bench-rust header clean

demo:
	cargo run --release -p websock-chat

test:
	bash scripts/test-all.sh

# Rust core against the peers in one run (see BENCHMARKS.md for the full commands).
bench-rust:
	cd ../shared/bench/wsload && cargo build --release && \
	  ./bench.sh --peers "ref-tcp-echo node-uws rust-fastwebsockets rust-tokio-tungstenite $(CURDIR)/bench/servers/rust" --ref node-uws

clean:
	cargo clean
