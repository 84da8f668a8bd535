.PHONY: run test lint fmt screenshots bench
run:
	./scripts/run.sh
test:
	./scripts/test.sh
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
fmt:
	cargo fmt --all
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
	# Journeys are timed in release, as a terminal runs them (the first release build of the
	# Slint tree takes a while on two cores): touch and presence to the next frame, a ticket
	# to the printer's confirmation, then a soak of HALLKIT_SOAK_JOURNEYS journeys.
	cargo bench -p kiosk-app --bench journeys
	cargo bench -p kiosk-app --bench soak
