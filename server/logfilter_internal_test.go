package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestLevelFilter: records below the level are dropped, and attributes
// and groups added by With reach the records that pass, in order, as a
// handler given them at once would print them.
func TestLevelFilter(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // "" when nothing is printed
	}{
		{"below the level", func(l *slog.Logger) { l.With("sql", "SELECT 1").Info("exec") }, ""},
		{"at the level", func(l *slog.Logger) { l.Error("boom", "n", 1) }, `level=ERROR msg=boom component=ferretdb n=1`},
		{"with attributes", func(l *slog.Logger) { l.With("a", 1).With("b", "x y").Error("boom") },
			`level=ERROR msg=boom component=ferretdb a=1 b="x y"`},
		{"with a group", func(l *slog.Logger) { l.With("a", 1).WithGroup("g").With("b", 2).Error("boom", "c", 3) },
			`level=ERROR msg=boom component=ferretdb a=1 g.b=2 g.c=3`},
		{"siblings keep their own attributes", func(l *slog.Logger) {
			base := l.With("a", 1)
			_ = base.With("b", 2)
			base.With("c", 3).Error("boom")
		}, `level=ERROR msg=boom component=ferretdb a=1 c=3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			inner := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			tc.log(ferretLogger(inner))
			if got := strings.TrimSpace(out.String()); got != tc.want {
				t.Fatalf("printed %q, want %q", got, tc.want)
			}
		})
	}
	if ferretLogger(slog.Default()).Handler().Enabled(context.Background(), slog.LevelWarn) {
		t.Fatal("warnings pass the filter")
	}
}

// BenchmarkFerretLoggerWith measures what FerretDB does per SQL statement
// (a logger With the statement, then a debug record that is dropped):
// through ferretLogger, and through a text handler given the attributes
// at once, as the filter passed them on before.
func BenchmarkFerretLoggerWith(b *testing.B) {
	text := slog.NewTextHandler(io.Discard, nil)
	for _, tc := range []struct {
		name string
		l    *slog.Logger
	}{
		{"ferretLogger", ferretLogger(slog.New(text))},
		{"eager", slog.New(text).With("component", "ferretdb")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.l.With("sql", `INSERT INTO "oshi_messages_a1b2c3d4" (_ferretdb_sjson) VALUES (?)`, "args", 1).Debug("exec")
			}
		})
	}
}
