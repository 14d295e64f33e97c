-- Outcome complaint (SPEC §2): a spam report about a delivered message (an ARF report,
-- an ESP's complaint) is stored in attempts with outcome 'complaint' and class
-- 'complaint'. Adding a value to an Enum8 is a metadata-only change on 18.16 and on
-- modern servers, and repeating it is a no-op, so members migrate side by side.
--
-- reasons_daily_mv copies attempts.outcome into reasons_daily.outcome, so the target is
-- widened FIRST: modern servers convert a view's block to its target by name and accept
-- the narrower enum meanwhile. 18.16 requires identical types: an INSERT into attempts
-- that lands between the two statements (milliseconds apart) fails with "Type mismatch
-- ... while pushing to view reasons_daily_mv" after attempts has the rows, and its retry
-- is skipped by the watermark. On 18.16, run `bounced migrate` before stage 2 members of
-- the new version start, with those of the old version stopped.
--
-- The rollups need no change: every complaint row carries class 'complaint' (stage 2 and
-- the writer give outcome complaint that class whatever its producer said), and the
-- views already count class 'complaint' as complaints only, never as attempts,
-- deliveries or sends; outcomes gets no row for it.
ALTER TABLE reasons_daily MODIFY COLUMN outcome Enum8('delivered' = 1, 'deferred' = 2, 'bounced' = 3, 'expired' = 4, 'dropped' = 5, 'complaint' = 6);
ALTER TABLE attempts MODIFY COLUMN outcome Enum8('delivered' = 1, 'deferred' = 2, 'bounced' = 3, 'expired' = 4, 'dropped' = 5, 'complaint' = 6);
