package clickhouse

// SetBeforeOutcomes makes f run between the attempts and the outcomes INSERT
// of every InsertAttempts call; an error from f stands for a crash there.
func SetBeforeOutcomes(c *Client, f func() error) { c.beforeOutcomes = f }
