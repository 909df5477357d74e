package gateway_test

import (
	"errors"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func closeStatus(err error) int { return int(websocket.CloseStatus(err)) }

// errorCode returns the protocol error code of a client error, or "".
func errorCode(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
