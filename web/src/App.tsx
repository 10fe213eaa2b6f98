import { lazy, Suspense } from 'react';
import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth/AuthProvider';
import { ApiError } from './api/problem';
import { Loading } from './components/States';
import { theme } from './theme';
import { SignIn } from './routes/auth/SignIn';
import { Register } from './routes/auth/Register';
import { ForgotPassword, ResetPassword } from './routes/auth/Password';
import { VerifyEmail } from './routes/auth/VerifyEmail';
import { AcceptInvitation } from './routes/auth/AcceptInvitation';

// Everything behind sign-in loads on demand: the sign-in screen's
// JavaScript stays small, and the editor is its own chunk.
const Shell = lazy(() => import('./routes/Shell'));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not change by asking again.
      retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 2,
      refetchOnWindowFocus: false,
    },
  },
});

function Gate() {
  const { status } = useAuth();
  const loc = useLocation();
  if (status === 'starting') return <Loading label="Signing in…" />;
  if (status === 'signed-out') {
    const next = loc.pathname + loc.search;
    return <Navigate to={`/sign-in${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
  }
  return (
    <Suspense fallback={<Loading />}>
      <Shell />
    </Suspense>
  );
}

export function App() {
  return (
    <MantineProvider theme={theme} withCssVariables={false} withGlobalClasses={false} defaultColorScheme="auto">
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <AuthProvider>
            <Routes>
              <Route path="/sign-in" element={<SignIn />} />
              <Route path="/register" element={<Register />} />
              <Route path="/forgot-password" element={<ForgotPassword />} />
              <Route path="/reset-password" element={<ResetPassword />} />
              <Route path="/verify-email" element={<VerifyEmail />} />
              <Route path="/accept-invitation" element={<AcceptInvitation />} />
              <Route path="*" element={<Gate />} />
            </Routes>
          </AuthProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
