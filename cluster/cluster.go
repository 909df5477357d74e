// Package cluster lets several Oshi nodes serve the same streams through
// NATS.
//
// MongoDB stays the one source of truth: messages are stored there, and its
// unique index on (stream_id, seq) decides every sequence number. NATS only
// carries news between nodes, in two kinds of subjects:
//
//   - oshi.msg.<stream id>: each stored message. A node subscribes only to
//     the streams its own clients follow (interest-based), so a stream
//     nobody on a node watches costs that node nothing.
//   - oshi.bus: low-volume control events (members joining and leaving,
//     new streams, revoked sessions), which every node receives.
//
// Connections use NoEcho: a node never hears its own publications back.
package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/oshichat/oshi/models"
)

// Config configures a Node.
type Config struct {
	// URL is the NATS server address, e.g. nats://127.0.0.1:4222.
	URL string
	// Name identifies this node in NATS monitoring; empty means "oshi".
	Name string
	// Logger receives connection news; nil discards it.
	Logger *slog.Logger
}

// Node is one Oshi node's link to the others.
type Node struct {
	nc  *nats.Conn
	log *slog.Logger
	bus *nats.Subscription
}

const (
	msgPrefix  = "oshi.msg."
	busSubject = "oshi.bus"
)

// Connect joins the cluster. It reconnects by itself for as long as the
// node runs; publications made while disconnected are buffered by the
// NATS client up to its limit and dropped after, which receivers notice as
// a gap in seqs and fill from MongoDB.
func Connect(cfg Config) (*Node, error) {
	if cfg.Name == "" {
		cfg.Name = "oshi"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", cfg.URL, err)
	}
	return &Node{nc: nc, log: log}, nil
}

// PublishMessage tells the other nodes that m was stored.
func (n *Node) PublishMessage(m *models.Message) {
	data, err := json.Marshal(m)
	if err != nil {
		n.log.Error("encode message for nats", "err", err)
		return
	}
	if err := n.nc.Publish(msgPrefix+m.StreamID, data); err != nil {
		n.log.Warn("publish message to nats", "stream", m.StreamID, "err", err)
	}
}

// SubscribeStream delivers the messages other nodes store in a stream to
// fn, in the order NATS received them, until the returned function is
// called. It returns once the NATS server has registered the interest, so
// nothing published after it returns is missed.
func (n *Node) SubscribeStream(streamID string, fn func(*models.Message)) (func(), error) {
	sub, err := n.nc.Subscribe(msgPrefix+streamID, func(msg *nats.Msg) {
		var m models.Message
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			n.log.Warn("bad message from nats", "subject", msg.Subject, "err", err)
			return
		}
		fn(&m)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe stream %s: %w", streamID, err)
	}
	if err := n.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe stream %s: %w", streamID, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// PublishEvent sends a control event for a topic to the other nodes.
func (n *Node) PublishEvent(topic string, payload []byte) {
	data := make([]byte, 0, len(topic)+1+len(payload))
	data = append(append(append(data, topic...), '\n'), payload...)
	if err := n.nc.Publish(busSubject, data); err != nil {
		n.log.Warn("publish event to nats", "topic", topic, "err", err)
	}
}

// SubscribeEvents delivers the other nodes' control events to fn. Call it
// once, before serving clients.
func (n *Node) SubscribeEvents(fn func(topic string, payload []byte)) error {
	sub, err := n.nc.Subscribe(busSubject, func(msg *nats.Msg) {
		topic, payload, ok := bytes.Cut(msg.Data, []byte{'\n'})
		if !ok {
			return
		}
		fn(string(topic), payload)
	})
	if err != nil {
		return fmt.Errorf("subscribe events: %w", err)
	}
	n.bus = sub
	return n.nc.Flush()
}

// Close leaves the cluster after sending what is buffered.
func (n *Node) Close() error {
	if err := n.nc.Drain(); err != nil {
		n.nc.Close()
		return fmt.Errorf("close nats: %w", err)
	}
	return nil
}
