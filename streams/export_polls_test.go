package streams

// PollQueued reports whether s has the poll of message msgID queued to
// close at its expiry, for the tests of package streams_test.
func PollQueued(s *Service, msgID string) bool {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	_, ok := s.pollIDs[msgID]
	return ok
}
