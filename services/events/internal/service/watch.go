package service

import (
	eventsv1 "convene.dev/gen/convene/events/v1"
)

// watchBatch is how many changes are read from the store at a time.
const watchBatch = 256

// WatchEventChanges implements EventServiceServer: the changes after the
// requested sequence, then every new one as it is committed, until the
// client goes away or the server shuts down.
func (s *Service) WatchEventChanges(req *eventsv1.WatchEventChangesRequest, stream eventsv1.EventService_WatchEventChangesServer) error {
	ctx := stream.Context()
	after := req.GetAfterSequence()
	for {
		// Ask for the wake-up before reading, so that a change committed in
		// between is not missed.
		wake := s.store.Wait(after)
		changes, err := s.store.Changes(ctx, after, watchBatch)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			if err := stream.Send(ch); err != nil {
				return err
			}
			after = ch.GetSequence()
		}
		if len(changes) == watchBatch {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return nil
		}
	}
}

// BackupDatabase implements EventServiceServer.
func (s *Service) BackupDatabase(_ *eventsv1.BackupDatabaseRequest, stream eventsv1.EventService_BackupDatabaseServer) error {
	return s.store.Backup(stream.Context(), func(b []byte) error {
		return stream.Send(&eventsv1.BackupChunk{Data: b})
	})
}
