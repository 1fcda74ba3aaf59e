package chaos

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/gen/holdfast/v1/holdfastv1connect"
	"github.com/holdfast-backup/holdfast/server"
)

// TestChaosAuth calls every RPC of the generated descriptors (but the
// public InfoService) on repository "chaos" with no token, a malformed one,
// an unknown one, an expired one (TTL 1 s, past on the server's clock), and
// another repository's admin token. Each request names a real snapshot,
// token and repository where it has such fields, so an RPC that let it
// through would change something. Every call must be refused with
// unauthenticated (the first four) or permission_denied (the last), and the
// repositories, snapshots, tokens and key files must be unchanged.
func TestChaosAuth(t *testing.T) {
	skipShort(t)
	s := newTally(t, "auth")
	f := newFixture(t, nil, 2, 64<<10)
	sn, r := f.takeBackup(f.backup)
	if r.code != 0 {
		t.Fatalf("backup: %v", r)
	}
	expired := f.token("admin", "1s")
	f.want(f.server.run("admin", "repo", "create", "other"), 0, "create repo other")
	other := *f.server
	other.repo = "other"
	otherTok := strings.TrimSpace(f.want(other.run("admin", "token", "create", "--repo", "other", "--role", "admin"), 0, "token for other").stdout)
	ids := fillIDs{snapshot: mustHex(t, sn.id), token: server.TokenID(server.HashToken(f.admin.token))}
	before := f.state()
	// Controls: the same requests succeed with good tokens, so the refusals
	// below are the tokens' doing. The 1 s token still works here.
	for _, ep := range endpoints(t) {
		if ep.procedure == holdfastv1connect.SnapshotServiceGetSnapshotProcedure || ep.procedure == holdfastv1connect.SnapshotServiceListSnapshotsProcedure {
			for _, tok := range []string{f.admin.token, expired} {
				if code, err := call(f.d.url, ep, "Bearer "+tok, requestJSON(t, ep.method.Input(), ids)); code != "" || err != nil {
					t.Fatalf("control: %s with a good token: %q, %v", ep.procedure, code, err)
				}
			}
		}
	}
	time.Sleep(1500 * time.Millisecond) // the 1 s token is now expired on the server's clock

	bad := []struct {
		name, header, want string
	}{
		{"no token", "", "unauthenticated"},
		{"malformed", "Bearer not-a-token", "unauthenticated"},
		{"unknown", "Bearer hf_" + strings.Repeat("Zm9v", 11), "unauthenticated"},
		{"expired", "Bearer " + expired, "unauthenticated"},
		{"other repository", "Bearer " + otherTok, "permission_denied"},
	}
	calls := 0
	for range roundsOf(1, 3) {
		s.rounds++
		for _, ep := range endpoints(t) {
			if strings.HasPrefix(ep.procedure, "/"+holdfastv1connect.InfoServiceName+"/") {
				continue // public: versions and health
			}
			body := requestJSON(t, ep.method.Input(), ids)
			for _, b := range bad {
				code, err := call(f.d.url, ep, b.header, body)
				calls++
				if err != nil {
					s.fail("%s with %s token: %v", ep.procedure, b.name, err)
				} else if code != b.want {
					s.fail("%s with %s token: %q, want %q", ep.procedure, b.name, code, b.want)
				}
			}
		}
	}
	if after := f.state(); !proto.Equal(after, before) {
		s.fail("the refused calls changed the server:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := f.restoreCheck(sn); err != nil {
		s.fail("%v", err)
	}
	s.report(itoa(calls)+" calls refused", itoa(len(bad))+" kinds of bad token", "nothing changed")
}

// fillIDs are the real IDs a request names.
type fillIDs struct {
	snapshot []byte
	token    string
}

// requestJSON builds a request of type md naming repository "chaos", a
// real snapshot ID, a real token ID and a new repository name where it has
// such fields (also inside nested messages such as Commit's header).
func requestJSON(t *testing.T, md protoreflect.MessageDescriptor, ids fillIDs) []byte {
	m := dynamicpb.NewMessage(md)
	fillRequest(m, ids)
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fillRequest(m protoreflect.Message, ids fillIDs) {
	fields := m.Descriptor().Fields()
	oneofs := map[protoreflect.FullName]bool{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.IsMap() {
			continue
		}
		switch {
		case fd.Name() == "repo" && fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(chaosRepo))
		case fd.Name() == "name" && fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("intruder"))
		case fd.Name() == "id" && fd.Kind() == protoreflect.BytesKind:
			m.Set(fd, protoreflect.ValueOfBytes(ids.snapshot))
		case fd.Name() == "id" && fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(ids.token))
		case fd.Kind() == protoreflect.MessageKind && fd.Message().Fields().ByName("repo") != nil:
			if o := fd.ContainingOneof(); o != nil {
				if oneofs[o.FullName()] {
					continue
				}
				oneofs[o.FullName()] = true
			}
			sub := m.NewField(fd).Message()
			fillRequest(sub, ids)
			m.Set(fd, protoreflect.ValueOfMessage(sub))
		}
	}
}

// call sends body as one Connect (JSON) request to ep with the given
// Authorization header and returns the error code of the answer ("" when
// it succeeded).
func call(url string, ep endpoint, auth string, body []byte) (string, error) {
	ctype := "application/json"
	if ep.streaming() {
		ctype = "application/connect+json"
		env := make([]byte, 5, 5+len(body))
		binary.BigEndian.PutUint32(env[1:], uint32(len(body)))
		body = append(env, body...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+ep.procedure, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if !ep.streaming() || resp.StatusCode != http.StatusOK {
		var e struct{ Code string }
		if resp.StatusCode == http.StatusOK {
			return "", nil
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return "", fmt.Errorf("HTTP %d, body %q", resp.StatusCode, raw)
		}
		return e.Code, nil
	}
	// A stream ends with an end-of-stream frame (flag 2) holding the error.
	for len(raw) >= 5 {
		n := binary.BigEndian.Uint32(raw[1:5])
		if uint32(len(raw)-5) < n {
			return "", fmt.Errorf("truncated stream frame")
		}
		if raw[0]&2 != 0 {
			var end struct{ Error *struct{ Code string } }
			if err := json.Unmarshal(raw[5:5+n], &end); err != nil {
				return "", fmt.Errorf("end of stream %q: %v", raw[5:5+n], err)
			}
			if end.Error == nil {
				return "", nil
			}
			return end.Error.Code, nil
		}
		raw = raw[5+n:]
	}
	return "", fmt.Errorf("stream without an end frame")
}

// state is what the refused calls must not change: repositories, and the
// snapshots, tokens and key files of "chaos", read with the server-admin
// token.
func (f *fixture) state() *holdfastv1.ListReposResponse {
	t := f.t
	ctx := context.Background()
	auth := connect.WithInterceptors(bearer(f.server.token))
	repos := holdfastv1connect.NewRepoServiceClient(http.DefaultClient, f.d.url, auth)
	lr, err := repos.ListRepos(ctx, connect.NewRequest(&holdfastv1.ListReposRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	// Fold the other listings into the names, so one proto.Equal compares all.
	out := &holdfastv1.ListReposResponse{Names: lr.Msg.Names}
	add := func(m proto.Message, err error) {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := protojson.Marshal(m)
		out.Names = append(out.Names, string(b))
	}
	snaps := holdfastv1connect.NewSnapshotServiceClient(http.DefaultClient, f.d.url, auth)
	ls, err := snaps.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: chaosRepo}))
	add(msgOf(ls), err)
	toks := holdfastv1connect.NewTokenServiceClient(http.DefaultClient, f.d.url, auth)
	lt, err := toks.ListTokens(ctx, connect.NewRequest(&holdfastv1.ListTokensRequest{Repo: chaosRepo}))
	add(msgOf(lt), err)
	lk, err := repos.ListKeyFiles(ctx, connect.NewRequest(&holdfastv1.ListKeyFilesRequest{Repo: chaosRepo}))
	add(msgOf(lk), err)
	return out
}

func msgOf[T any, M interface {
	*T
	proto.Message
}](r *connect.Response[T]) proto.Message {
	if r == nil {
		return (M)(new(T))
	}
	return M(r.Msg)
}

// bearer sets the Authorization header on unary calls.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
