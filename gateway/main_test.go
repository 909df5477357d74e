package gateway_test

import (
	"testing"

	"github.com/oshichat/oshi/internal/oshitest"
)

func TestMain(m *testing.M) { oshitest.Main(m) }
