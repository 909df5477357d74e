package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestIndexIDs checks that after IndexIDs SQLite plans FerretDB's query
// for {_id: <string>} with an index instead of a scan, and that the
// lookup still finds the document.
func TestIndexIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	coll := cl.Database("probe").Collection("things")
	var docs []any
	for i := range 100 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprint("id", i)}, {Key: "n", Value: i}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "probe.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = 'things'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	plan := func() string {
		t.Helper()
		rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), `"id7"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	if p := plan(); !strings.HasPrefix(p, "SCAN") {
		t.Fatalf("before IndexIDs the plan is %q; FerretDB may have fixed its _id index, and IndexIDs may be unneeded", p)
	}
	for range 2 { // idempotent
		if err := srv.IndexIDs(ctx, "probe", "absent"); err != nil {
			t.Fatal(err)
		}
	}
	// A connection plans with the schema it last read: use a new one.
	db.Close()
	if db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "probe.sqlite")); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if p := plan(); !strings.Contains(p, "USING INDEX "+table+"_oshi_id") {
		t.Fatalf("after IndexIDs the plan is %q", p)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "id7"}}).Decode(&got); err != nil || got["n"] != int32(7) {
		t.Fatalf("find by _id = %v, %v", got, err)
	}
}
