from convex_sim import Crons

crons = Crons()
crons.daily("open-tickets digest", {"hour_utc": 9, "minute_utc": 0}, "tickets:write_digest")
