package cli

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/bounced-dev/bounced/config"
)

// memberClientID names this member's Kafka connections after the host and
// data directory it runs with, which stay the same across its restarts:
// "bounced-3f2a9c1d" (or kafka.client_id, with the same suffix).
func memberClientID(cfg *config.Config) string {
	host, _ := os.Hostname()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dir = cfg.DataDir
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s", host, dir)
	base := cfg.Kafka.Conn.ClientID
	if base == "" {
		base = "bounced"
	}
	return fmt.Sprintf("%s-%08x", base, h.Sum32())
}

// evictPrevious removes from the consumer groups the members a previous
// incarnation of this member left behind when it was killed: same client
// id, so same host and data directory. The coordinator would drop them
// after the session timeout anyway; removing them at once (LeaveGroup v3
// names members) makes a restart after a crash rebalance immediately, and
// it does not depend on the broker's session bookkeeping for a member that
// died half-way through a join, which the embedded broker does not always
// expire.
func (e *env) evictPrevious(ctx context.Context, clientID string, groups ...string) error {
	described, err := e.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("describe consumer groups: %w", err)
	}
	for _, g := range described.Sorted() {
		if g.Err != nil {
			if g.Err == kerr.GroupIDNotFound {
				continue
			}
			return fmt.Errorf("describe consumer group %s: %w", g.Group, g.Err)
		}
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = g.Group
		for _, m := range g.Members {
			if m.ClientID == clientID {
				lm := kmsg.NewLeaveGroupRequestMember()
				lm.MemberID = m.MemberID
				req.Members = append(req.Members, lm)
			}
		}
		if len(req.Members) == 0 {
			continue
		}
		resp, err := req.RequestWith(ctx, e.kgo)
		if err != nil {
			return fmt.Errorf("remove stale members of %s: %w", g.Group, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("remove stale members of %s: %w", g.Group, err)
		}
		e.log.Warn("removed members a previous run of this member left in the group (it was killed)", "group", g.Group, "members", len(req.Members), "client_id", clientID)
	}
	return nil
}
