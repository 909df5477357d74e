package gateway_test

import (
	"os"
	"testing"

	"github.com/oshichat/oshi/internal/oshitest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	oshitest.Cleanup()
	os.Exit(code)
}
