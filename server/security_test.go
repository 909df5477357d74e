package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/oshichat/oshi/client"
	"github.com/oshichat/oshi/internal/oshitest"
	"github.com/oshichat/oshi/server"
)

// selfSigned writes a self-signed ECDSA P-256 certificate for 127.0.0.1
// and its key to dir, and returns their paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "oshi test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS serves HTTPS and WSS from the configured files: a client that
// trusts the certificate registers over HTTPS and authenticates over
// WSS; one that does not, and plain HTTP, are refused.
func TestTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	srv, err := server.New(ctx, server.Config{
		MongoURI: oshitest.MongoURI(t), MongoDB: oshitest.Database(t),
		TLSCert: certFile, TLSKey: keyFile,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(runCtx, ln, 5*time.Second) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addr := ln.Addr().String()
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer trusting.CloseIdleConnections()

	// Register over HTTPS.
	resp, err := trusting.Post("https://"+addr+"/api/register", "application/json",
		bytes.NewBufferString(`{"username":"alice","password":"password-alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login client.Login
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || login.Token == "" {
		t.Fatalf("register over HTTPS = %d, %+v, %v", resp.StatusCode, login, err)
	}

	// Authenticate over WSS.
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: trusting})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	frames := []string{}
	read := func() {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		frames = append(frames, string(data))
	}
	read()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"cmd":"auth","ref":1,"token":"`+login.Token+`"}`)); err != nil {
		t.Fatal(err)
	}
	read()
	if !strings.HasPrefix(frames[0], `{"cmd":"handshake"`) || !strings.HasPrefix(frames[1], `{"cmd":"ready","ref":1,"user":{"id":"`+login.User.ID) {
		t.Fatalf("frames over WSS = %q", frames)
	}

	refused := []struct {
		name string
		do   func() error
	}{
		{"untrusted certificate", func() error {
			_, err := http.Post("https://"+addr+"/healthz", "", nil)
			return err
		}},
		{"untrusted certificate, WebSocket", func() error {
			_, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", nil)
			return err
		}},
		{"plain HTTP", func() error {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest {
					return nil
				}
				err = errors.New(resp.Status)
			}
			return err
		}},
	}
	for _, tc := range refused {
		if err := tc.do(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name       string
		cert, key  string
		wantErrHas string
	}{
		{"cert without key", certFile, "", "OSHI_TLS_KEY"},
		{"key without cert", "", keyFile, "OSHI_TLS_CERT"},
		{"missing file", missing, keyFile, "OSHI_TLS_CERT"},
		{"key for the cert swapped", keyFile, certFile, "OSHI_TLS_CERT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := server.New(context.Background(), server.Config{
				MongoURI: oshitest.MongoURI(t), MongoDB: oshitest.Database(t),
				TLSCert: tc.cert, TLSKey: tc.key, Logger: slog.New(slog.DiscardHandler),
			})
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("server started")
			}
			if !strings.Contains(err.Error(), tc.wantErrHas) {
				t.Fatalf("error = %v, want one naming %s", err, tc.wantErrHas)
			}
		})
	}
}

// TestClusterPasswordChange: a password change on one node closes the
// user's connections on the others, password ones included.
func TestClusterPasswordChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := cluster(t, 2)
	a, b := nodes[0], nodes[1]
	alice := a.Register("alice")
	byToken := b.Dial(alice)
	byPassword, err := client.Dial(ctx, b.WSURL, client.Credentials{Username: "alice", Password: "password-alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer byPassword.Close()

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/api/password",
		bytes.NewBufferString(`{"password":"password-alice","new_password":"a-new-password"}`))
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("password change = %d", resp.StatusCode)
	}
	for name, c := range map[string]*client.Client{"token": byToken, "password": byPassword} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("connection by %s on the other node still open", name)
		}
		if got := websocket.CloseStatus(c.Err()); got != 4004 {
			t.Fatalf("connection by %s: close %d, want 4004", name, got)
		}
	}
}
