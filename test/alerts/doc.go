// Package alerts tests partnergov's alerting rules (config/prometheus) with the
// real tools, installed by `make test-tools` from Debian's prometheus package:
// `promtool check rules`, `promtool test rules` with input series for every
// alert, and a real Prometheus that scrapes a real manager (the harness's
// process, against a local control plane) and fires the SLA alert after a
// review stage passes its SLA.
package alerts
