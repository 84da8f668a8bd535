.PHONY: run test lint fmt screenshots bench business-app sdk
run:
	./scripts/run.sh
test:
	./scripts/test.sh
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
fmt:
	cargo fmt --all
# The device API's TypeScript SDK (types checked against the terminal's schema, then compiled).
sdk:
	bash scripts/setup-debian.sh
	cd sdk/js && npm run build
# The sample business page on http://127.0.0.1:5847, beside `make run` (its gateway on 5846).
business-app: sdk
	node examples/business-app/serve.mjs --port 5847
screenshots:
	mkdir -p docs/screens
	cargo run -q -p kiosk-app --bin kiosk -- screenshot home docs/screens/home.png --config config/kiosk.sim.toml
	cargo run -q -p kiosk-app --bin kiosk -- screenshot device-status docs/screens/device-status.png --config config/kiosk.sim.toml
	cargo run -q -p kiosk-app --bin kiosk -- screenshot device-status docs/screens/device-status-portrait.png --portrait --config config/kiosk.sim.toml
bench:
	cargo bench -p kiosk-drivers --bench identity
	cargo bench -p kiosk-drivers --bench printing
	cargo bench -p kiosk-central --bench ingest
	cargo bench -p kiosk-central --bench queue
	cargo bench -p kiosk-image --bench document
	cargo bench -p kiosk-models --bench face
	# dev profile: these figures are fsync- and network-bound, and a release build of the
	# kiosk-app dependency tree (Slint) would add many minutes.
	cargo bench --profile dev -p kiosk-app --bench outbox
	cargo bench --profile dev -p kiosk-app --bench filing
	cargo bench --profile dev -p kiosk-app --bench cast
	cargo bench --profile dev -p kiosk-app --bench gateway
	cargo bench --profile dev -p kiosk-app --bench config_push
	# Journeys are timed in release, as a terminal runs them (the first release build of the
	# Slint tree takes a while on two cores): touch and presence to the next frame, a ticket
	# to the printer's confirmation, then a soak of HALLKIT_SOAK_JOURNEYS journeys.
	cargo bench -p kiosk-app --bench journeys
	cargo bench -p kiosk-app --bench soak
	# The footprint and recovery figures, on the release binaries a terminal runs.
	cargo build --release -p kiosk-app --bin kiosk
	cargo build --release -p kiosk-central --bin kiosk-central
	cargo bench -p kiosk-app --bench reliability
