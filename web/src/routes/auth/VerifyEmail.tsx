import { useEffect, useRef, useState } from 'react';
import { Alert } from '@mantine/core';
import { useLocation } from 'react-router';
import { postJSON } from '../../auth/session';
import { Loading } from '../../components/States';
import { AuthLayout, BackToSignIn, FormError, tokenFromLocation } from './AuthLayout';

export function VerifyEmail() {
  const token = tokenFromLocation(useLocation());
  const [state, setState] = useState<'working' | 'done' | 'failed'>('working');
  const [error, setError] = useState<unknown>(null);
  const sent = useRef(false);
  useEffect(() => {
    // A verification token works once: send it once even when effects run twice.
    if (!token || sent.current) return;
    sent.current = true;
    postJSON('/api/v1/auth/verify-email', { token })
      .then(() => setState('done'))
      .catch((err: unknown) => {
        setError(err);
        setState('failed');
      });
  }, [token]);
  return (
    <AuthLayout title="Verify your e-mail" footer={<BackToSignIn />}>
      {!token ? (
        <Alert color="red">This link has no token. Open the link from the e-mail again.</Alert>
      ) : state === 'working' ? (
        <Loading label="Verifying…" />
      ) : state === 'done' ? (
        <Alert color="green" role="status">
          Your e-mail address is verified.
        </Alert>
      ) : (
        <FormError error={error} />
      )}
    </AuthLayout>
  );
}
