// Package metrics exposes Oshi's Prometheus metrics on a registry of its
// own, so several servers in one process (tests, embedders) do not
// collide with each other or with the default registry.
//
// Gauges and counters that the broker and the gateway already keep are
// read at scrape time through Sources, so metrics add nothing to the
// publish path; the store's batch histograms are fed by ObserveBatch,
// which server wires to streams.Config.OnBatch.
package metrics
