package hooks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/oshichat/oshi/hooks"
	"github.com/oshichat/oshi/models"
)

type upper struct{ hooks.Base }

func (upper) OnMessage(_ context.Context, m *models.Message) error {
	m.Content = strings.ToUpper(m.Content)
	return nil
}

type refuseAll struct{ hooks.Base }

func (refuseAll) OnMessage(context.Context, *models.Message) error { return errors.New("no shouting") }
func (refuseAll) OnConnect(context.Context, models.UserRef) error  { return errors.New("closed today") }

func TestHooksRunInOrder(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		hs      hooks.Hooks
		want    string
		wantErr string
	}{
		{"none", nil, "hi", ""},
		{"base only", hooks.Hooks{hooks.Base{}}, "hi", ""},
		{"rewrite", hooks.Hooks{upper{}}, "HI", ""},
		{"rewrite then refuse", hooks.Hooks{upper{}, refuseAll{}}, "HI", "no shouting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &models.Message{Content: "hi"}
			err := tc.hs.OnMessage(ctx, m)
			if m.Content != tc.want {
				t.Fatalf("content = %q, want %q", m.Content, tc.want)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, hooks.ErrRejected) || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want a rejection saying %q", err, tc.wantErr)
			}
		})
	}
	if err := (hooks.Hooks{refuseAll{}}).OnConnect(ctx, models.UserRef{}); !errors.Is(err, hooks.ErrRejected) {
		t.Fatalf("OnConnect = %v", err)
	}
}
