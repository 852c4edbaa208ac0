pub struct FleetRateLimiter;
