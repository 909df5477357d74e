//go:build !unix

package gateway

// processCPU is not measured on this platform: /api/stats reports 0.
func processCPU() float64 { return 0 }
