package pgcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelgate/modelgate/internal/pgcluster"
)

// query runs SELECT 1 on a new connection to the cluster.
func query(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func TestCluster_StopsAndStartsOnTheSamePortWithTheSameData(t *testing.T) {
	t.Parallel()
	c := pgcluster.Start(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(pgcluster.Immediate); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection survived an immediate stop")
	}
	conn.Close(ctx)
	if err := query(ctx, c.URL()); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("committed row after crash recovery: %d, %v; want 42", v, err)
	}
	if err := c.Stop(pgcluster.Fast); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(pgcluster.Fast); err == nil {
		t.Fatal("stopping a stopped cluster: no error")
	}
}
