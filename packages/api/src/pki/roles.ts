/** Who a certificate speaks for: a manager, a worker, or a client (a remote CLI). */
export type Role = 'manager' | 'worker' | 'client';
export const ROLES: readonly Role[] = ['manager', 'worker', 'client'];
