package gateway_test

import (
	"errors"

	"github.com/coder/websocket"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func closeStatus(err error) int { return int(websocket.CloseStatus(err)) }
