package main

import "github.com/coder/websocket"

func closeStatus(err error) websocket.StatusCode { return websocket.CloseStatus(err) }
