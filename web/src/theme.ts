import { createTheme, Modal } from '@mantine/core';

// No custom colours or breakpoints: Mantine's stylesheet carries the default
// theme's CSS variables, so the provider injects no <style> element (the
// Content-Security-Policy allows styles from our own files only). For the
// same reason dialogs do not lock scrolling: the scroll lock writes an
// inline <style>.
export const theme = createTheme({
  components: {
    Modal: Modal.extend({ defaultProps: { lockScroll: false } }),
  },
});
