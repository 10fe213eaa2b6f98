import { Button, Group } from '@mantine/core';
import { useState } from 'react';

/** useCursorPages keeps the cursors of the pages visited, for an API that pages forward with next_cursor. */
export function useCursorPages() {
  const [stack, setStack] = useState<string[]>([]);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length + 1,
    next: (c: string) => setStack([...stack, c]),
    prev: () => setStack(stack.slice(0, -1)),
    reset: () => setStack([]),
  };
}

export function Pager({ pages, nextCursor }: { pages: ReturnType<typeof useCursorPages>; nextCursor?: string }) {
  return (
    <Group justify="flex-end" gap="xs" mt="sm">
      <Button variant="default" size="xs" disabled={pages.page === 1} onClick={pages.prev}>
        Previous
      </Button>
      <span aria-live="polite" style={{ fontSize: 13 }}>
        Page {pages.page}
      </span>
      <Button variant="default" size="xs" disabled={!nextCursor} onClick={() => nextCursor && pages.next(nextCursor)}>
        Next
      </Button>
    </Group>
  );
}
