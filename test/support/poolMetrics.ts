// The metric families issue 6 and contract §5 name that carry a `pool` label (histograms by their
// _bucket series), as the unit and integration tests expect them on /metrics. The VPN families
// exist for pools with a VPN only.

/** Families every pool has. */
export const POOL_FAMILIES = [
  'enginepool_reconcile_total',
  'enginepool_reconcile_errors_total',
  'enginepool_reconcile_time_seconds_bucket',
  'enginepool_engines',
  'enginepool_engines_desired',
  'enginepool_engines_free',
  'enginepool_engines_min_free',
  'enginepool_engines_max',
  'enginepool_provisioning_failures_total',
  'enginepool_circuit_breaker_state',
  'enginepool_streams',
] as const;

/** Families a pool behind a VPN has as well. */
export const VPN_POOL_FAMILIES = ['enginepool_vpn_phase', 'enginepool_vpn_forwarded_port'] as const;
