package clickhouse

import "github.com/bounced-dev/bounced/processor/event"

// SetBeforeOutcomes makes f run between the attempts and the outcomes INSERT
// of every InsertAttempts call; an error from f stands for a crash there.
func SetBeforeOutcomes(c *Client, f func() error) { c.beforeOutcomes = f }

// SetBeforeSend makes f run in every INSERT of attempts or outcomes rows
// once the server has the query and before the rows are sent, with the
// table and the partitions the INSERT carries.
func SetBeforeSend(c *Client, f func(table string, partitions []int32)) { c.beforeSend = f }

// QueryID and InflightWhere expose the query id of shared INSERTs and the
// condition that finds them.
func QueryID(database, table, topic string, partitions []int32) string {
	return queryID(database, table, topic, partitions)
}

func InflightWhere(database, table, topic string, partition int32) (string, []any) {
	return inflightWhere(database, partitionKey{table, topic, partition})
}

func AppendSendKey(dst []byte, a *event.Attempt) []byte { return appendSendKey(dst, a) }

// CompressionOf is the method a Config's compression setting resolves to
// ("none" when the blocks go uncompressed).
func CompressionOf(c Config) string {
	m := c.withDefaults().compression()
	if m == nil {
		return CompressionNone
	}
	return m.Method.String()
}
