package server

import (
	"reflect"
	"strings"
)

// Variable is one OSHI_* environment variable of Config.
type Variable struct {
	Name    string // OSHI_ADDR
	Default string // empty when unset by default
	Desc    string // one line
}

// Variables lists the environment variables FromEnv reads, in Config's
// order, with their defaults (from the envDefault tags) and a short
// description. oshid's help prints it; README's configuration table
// carries the same variables and defaults at more length.
func Variables() []Variable {
	var vs []Variable
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		name, _, _ = strings.Cut(name, ",")
		vs = append(vs, Variable{Name: name, Default: f.Tag.Get("envDefault"), Desc: descriptions[name]})
	}
	return vs
}

// descriptions are the one-line meanings of the variables; a test checks
// that every variable has one.
var descriptions = map[string]string{
	"OSHI_ADDR":                        "HTTP and WebSocket listen address",
	"OSHI_MONGO_URI":                   "MongoDB connection string; empty starts the embedded store",
	"OSHI_MONGO_DB":                    "database name",
	"OSHI_DATA_DIR":                    "the embedded store's SQLite files",
	"OSHI_STORE_SYNC":                  "embedded store durability: full (survives power loss) or normal (faster)",
	"OSHI_MAX_MESSAGE_LENGTH":          "longest message, in characters",
	"OSHI_MAX_FRAME_BYTES":             "largest WebSocket frame a client may send (larger: close 1009)",
	"OSHI_QUEUE_BYTES":                 "bytes queued to one connection before it is closed as a slow consumer (4008)",
	"OSHI_AUTH_TIMEOUT":                "time a new connection has to authenticate (then close 4001)",
	"OSHI_HEARTBEAT_INTERVAL":          "server ping interval; silent for three intervals: close 4002",
	"OSHI_TOKEN_TTL":                   "lifetime of a login token",
	"OSHI_LOG_LEVEL":                   "debug, info, warn or error",
	"OSHI_LOG_FORMAT":                  "text or json (one JSON object a line)",
	"OSHI_LOGIN_MAX_FAILURES":          "wrong passwords one username may get within OSHI_LOGIN_WINDOW before logins are refused",
	"OSHI_LOGIN_MAX_FAILURES_PER_ADDR": "the same limit per client address",
	"OSHI_LOGIN_WINDOW":                "sliding window of both login limits",
	"OSHI_MAX_CONNECTIONS_PER_USER":    "WebSocket connections one user may have open per node",
	"OSHI_MAX_MEMBERS_PER_CIRCLE":      "members one circle may have",
	"OSHI_MAX_CIRCLES_PER_USER":        "circles one user may belong to",
	"OSHI_MAX_STREAMS_PER_CIRCLE":      "streams one circle may have",
	"OSHI_MAX_ROLES_PER_CIRCLE":        "roles one circle may have, its default role included",
	"OSHI_MAX_ACTIVE_THREADS":          "threads of one stream that are not archived (threads are not counted in OSHI_MAX_STREAMS_PER_CIRCLE)",
	"OSHI_RATE_MESSAGES_PER_MINUTE":    "messages sent, edited, deleted or reacted to by one user in any minute, per node",
	"OSHI_RATE_BURST":                  "of those, at most this many in any OSHI_RATE_BURST_WINDOW; one more starts a cooldown",
	"OSHI_RATE_BURST_WINDOW":           "window of OSHI_RATE_BURST",
	"OSHI_RATE_COOLDOWN":               "time all those commands are refused after a burst",
	"OSHI_RATE_TYPING_BURST":           "typing commands one user may send in any OSHI_RATE_TYPING_WINDOW, per node",
	"OSHI_RATE_TYPING_WINDOW":          "window of OSHI_RATE_TYPING_BURST",
	"OSHI_RATE_UPLOADS_PER_MINUTE":     "uploads (attachments and custom emoji) one user may make in any minute, per node (more: 429)",
	"OSHI_RATE_UPLOAD_BURST":           "of those, at most this many in any OSHI_RATE_UPLOAD_WINDOW",
	"OSHI_RATE_UPLOAD_WINDOW":          "window of OSHI_RATE_UPLOAD_BURST",
	"OSHI_ATTACHMENT_MAX_BYTES":        "largest file POST /api/attachments accepts (larger: 413)",
	"OSHI_ATTACHMENT_TYPES":            "comma-separated media types uploads may have, detected from the bytes (others: 415)",
	"OSHI_ATTACHMENT_GRACE":            "time an upload may stay unused by any sent message before it is deleted",
	"OSHI_MAX_EMOJI_BYTES":             "largest custom emoji image POST /api/circles/{circle}/emoji accepts (larger: 413)",
	"OSHI_MAX_EMOJI_PER_CIRCLE":        "custom emoji one circle may have",
	"OSHI_MAX_BOTS_PER_USER":           "bot accounts one user may own (POST /api/bots; one more: 409)",
	"OSHI_TLS_CERT":                    "PEM certificate file; with OSHI_TLS_KEY, serve HTTPS and WSS",
	"OSHI_TLS_KEY":                     "PEM private key file for OSHI_TLS_CERT",
	"OSHI_NATS_URL":                    "join other nodes through this NATS server",
	"OSHI_ALLOWED_ORIGINS":             "comma-separated host patterns of web pages allowed to open WebSockets",
	"OSHI_NODE_NAME":                   "this node's name in NATS",
	"OSHI_EMBEDS":                      "fetch link previews (title, description, image) of messages' links; off by default",
	"OSHI_EMBED_TIMEOUT":               "time one link preview fetch may take, redirects and reading included",
	"OSHI_EMBED_MAX_BYTES":             "bytes of a page read for its preview; the rest is ignored",
	"OSHI_EMBED_LINKS":                 "links of one message previewed",
}
