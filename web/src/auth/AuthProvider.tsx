import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import { can as canDo, type Me, type Permission } from './permissions';
import { getAccessToken, logout as endSession, mayResume, onSessionChange, refresh } from './session';

export interface AuthState {
  /** 'starting' while a reload's silent refresh runs. */
  status: 'starting' | 'signed-out' | 'signed-in';
  me: Me | null;
  can: (p: Permission) => boolean;
  logout: () => Promise<void>;
}

/** AuthContext is exported for component tests, which supply a principal directly. */
export const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [hasToken, setHasToken] = useState(getAccessToken() !== null);
  const [starting, setStarting] = useState(!hasToken && mayResume());

  useEffect(() => onSessionChange((signedIn) => {
    setHasToken(signedIn);
    if (!signedIn) qc.clear();
  }), [qc]);

  // A reload has no access token in memory: the refresh cookie, if any, gets one.
  useEffect(() => {
    if (getAccessToken() || !mayResume()) return;
    let live = true;
    void refresh().finally(() => live && setStarting(false));
    return () => {
      live = false;
    };
  }, []);

  const me = useQuery({
    queryKey: ['me'],
    queryFn: () => unwrap(api.GET('/api/v1/auth/me')),
    enabled: hasToken,
    staleTime: 60_000,
  });

  const logout = useCallback(async () => {
    await endSession();
    qc.clear();
  }, [qc]);

  const value = useMemo<AuthState>(() => {
    const m = hasToken ? (me.data ?? null) : null;
    let status: AuthState['status'] = 'signed-out';
    if (hasToken && m) status = 'signed-in';
    else if (starting || (hasToken && me.isPending)) status = 'starting';
    return { status, me: m, can: (p) => canDo(m, p), logout };
  }, [hasToken, starting, me.data, me.isPending, logout]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}
