# The two entry points of the README. Each installs what it needs first.
.PHONY: demo test setup ui bench

demo: setup ui
	cargo run --release -p backup-console -- demo

test:
	scripts/setup.sh --browser
	scripts/test.sh

setup:
	scripts/setup.sh

ui:
	scripts/build-ui.sh

bench: setup
	cargo bench -p backup-console --bench history
	cargo bench -p backup-console --bench procedure
	cargo bench -p backup-console --bench retention
