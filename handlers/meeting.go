package handlers

import (
	"strings"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/graphtime"
)

// defaultDuration is how long a meeting lasts when the request gives no end.
const defaultDuration = time.Hour

// meetingIDs are the server-generated identifiers of one meeting.
type meetingIDs struct {
	threadID      string
	joinMeetingID string
	passcode      string // only used when a passcode is required
	conferenceID  string // only used when audio conferencing is configured
}

// AudioConferencing is the dial-in information the server adds to every
// meeting. Graph takes it from the tenant's audio conferencing provider; here
// it comes from configuration. Each meeting gets its own conference id.
type AudioConferencing struct {
	TollNumber     string
	TollFreeNumber string
	// DialinURL is the dial-in page; "?id={conferenceId}" is appended.
	DialinURL string
}

// meetingTimes applies Graph's rules for start and end: none → now and now +
// 1 h; start only → start + 1 h; end without start, or end before start, is
// an error.
func meetingTimes(start, end *graphtime.Time, now time.Time) (time.Time, time.Time, *Error) {
	switch {
	case start == nil && end == nil:
		s := graphtime.Normalize(now)
		return s, s.Add(defaultDuration), nil
	case start == nil:
		return time.Time{}, time.Time{}, badRequest("endDateTime cannot be set without startDateTime.")
	case end == nil:
		s := graphtime.Normalize(start.Time)
		if s.After(graphtime.Max.Add(-defaultDuration)) {
			// start + 1 h would be a year Graph's form cannot write.
			return time.Time{}, time.Time{}, badRequest("endDateTime is required when startDateTime is less than an hour before 9999-12-31T23:59:59.9999999Z.")
		}
		return s, s.Add(defaultDuration), nil
	}
	s, e := graphtime.Normalize(start.Time), graphtime.Normalize(end.Time)
	if e.Before(s) {
		return time.Time{}, time.Time{}, badRequest("endDateTime must be equal to or later than startDateTime.")
	}
	return s, e, nil
}

// newMeeting builds the onlineMeeting that POST /me/onlineMeetings creates for
// organizer p from the request body, with Graph's defaults for everything the
// request leaves out and every other property null. It does not touch the store.
func newMeeting(p *auth.Principal, in *gen.OnlineMeetingCreate, now time.Time, ids meetingIDs, audio *AudioConferencing) (*gen.OnlineMeeting, *Error) {
	start, end, gerr := meetingTimes(in.StartDateTime, in.EndDateTime, now)
	if gerr != nil {
		return nil, gerr
	}
	participants, gerr := newParticipants(p, in.Participants)
	if gerr != nil {
		return nil, gerr
	}
	created := graphtime.New(now)
	m := &gen.OnlineMeeting{
		ID:               ptr(meetingID(p.ObjectID, ids.threadID)),
		CreationDateTime: &created,
		StartDateTime:    &graphtime.Time{Time: start},
		EndDateTime:      &graphtime.Time{Time: end},
		Subject:          in.Subject,
		ChatInfo: &gen.ChatInfo{
			ThreadID:  ptr(ids.threadID),
			MessageID: ptr("0"),
		},
		JoinWebURL:   ptr(joinWebURL(ids.threadID, p.TenantID, p.ObjectID)),
		Participants: participants,

		// Graph's defaults, overridden below by whatever the request sets.
		AllowAttendeeToEnableCamera:   ptr(true),
		AllowAttendeeToEnableMic:      ptr(true),
		AllowMeetingChat:              ptr(gen.MeetingChatModeEnabled),
		AllowParticipantsToChangeName: ptr(false),
		AllowTeamworkReactions:        ptr(true),
		AllowedPresenters:             ptr(gen.OnlineMeetingPresentersEveryone),
		IsEntryExitAnnounced:          ptr(true),
		RecordAutomatically:           ptr(false),
		LobbyBypassSettings: &gen.LobbyBypassSettings{
			Scope:                 ptr(gen.LobbyBypassScopeOrganization),
			IsDialInBypassEnabled: ptr(false),
		},
		JoinMeetingIDSettings: &gen.JoinMeetingIDSettings{
			IsPasscodeRequired: ptr(false),
			JoinMeetingID:      ptr(ids.joinMeetingID),
		},

		AllowBreakoutRooms:                   in.AllowBreakoutRooms,
		AllowCopyingAndSharingMeetingContent: in.AllowCopyingAndSharingMeetingContent,
		AllowLiveShare:                       enum[gen.MeetingLiveShareOptions](in.AllowLiveShare),
		AllowPowerPointSharing:               in.AllowPowerPointSharing,
		AllowRecording:                       in.AllowRecording,
		AllowTranscription:                   in.AllowTranscription,
		AllowWhiteboard:                      in.AllowWhiteboard,
		AllowedLobbyAdmitters:                enum[gen.AllowedLobbyAdmitterRoles](in.AllowedLobbyAdmitters),
		IsBroadcast:                          in.IsBroadcast,
		IsEndToEndEncryptionEnabled:          in.IsEndToEndEncryptionEnabled,
		MeetingSpokenLanguageTag:             in.MeetingSpokenLanguageTag,
		MeetingTemplateID:                    in.MeetingTemplateID,
		MeetingType:                          enum[gen.OnlineMeetingType](in.MeetingType),
		ShareMeetingChatHistoryDefault:       enum[gen.MeetingChatHistoryDefaultMode](in.ShareMeetingChatHistoryDefault),
		BroadcastSettings:                    broadcastSettings(in.BroadcastSettings),
		ChatRestrictions:                     chatRestrictions(in.ChatRestrictions),
		CloudVideoInteropInfo:                cloudVideoInteropInfo(in.CloudVideoInteropInfo),
		SensitivityLabelAssignment:           sensitivityLabel(in.SensitivityLabelAssignment),
		WatermarkProtection:                  watermarkProtection(in.WatermarkProtection),
	}
	setIfPresent(&m.AllowAttendeeToEnableCamera, in.AllowAttendeeToEnableCamera)
	setIfPresent(&m.AllowAttendeeToEnableMic, in.AllowAttendeeToEnableMic)
	setIfPresent(&m.AllowMeetingChat, enum[gen.MeetingChatMode](in.AllowMeetingChat))
	setIfPresent(&m.AllowParticipantsToChangeName, in.AllowParticipantsToChangeName)
	setIfPresent(&m.AllowTeamworkReactions, in.AllowTeamworkReactions)
	setIfPresent(&m.AllowedPresenters, enum[gen.OnlineMeetingPresenters](in.AllowedPresenters))
	setIfPresent(&m.IsEntryExitAnnounced, in.IsEntryExitAnnounced)
	setIfPresent(&m.RecordAutomatically, in.RecordAutomatically)
	if lb := in.LobbyBypassSettings; lb != nil {
		setIfPresent(&m.LobbyBypassSettings.Scope, enum[gen.LobbyBypassScope](lb.Scope))
		setIfPresent(&m.LobbyBypassSettings.IsDialInBypassEnabled, lb.IsDialInBypassEnabled)
	}
	if js := in.JoinMeetingIDSettings; js != nil && js.IsPasscodeRequired != nil && *js.IsPasscodeRequired {
		m.JoinMeetingIDSettings.IsPasscodeRequired = ptr(true)
		m.JoinMeetingIDSettings.Passcode = ptr(ids.passcode)
	}
	if audio != nil {
		m.AudioConferencing = audioConferencing(audio, ids.conferenceID)
	}
	return m, nil
}

// newParticipants makes the participants of a new meeting: the organizer is
// always the caller; a request may repeat the caller as organizer (as SDKs
// that round-trip objects do) but not name anyone else.
func newParticipants(p *auth.Principal, in *gen.MeetingParticipantsInput) (*gen.MeetingParticipants, *Error) {
	out := &gen.MeetingParticipants{
		Organizer: &gen.MeetingParticipantInfo{
			Identity: &gen.IdentitySet{User: &gen.Identity{
				ID:               ptr(p.ObjectID),
				DisplayName:      p.DisplayName,
				TenantID:         ptr(p.TenantID),
				IdentityProvider: ptr("AAD"),
			}},
			Role: ptr(gen.OnlineMeetingRolePresenter),
			Upn:  p.UPN,
		},
		Attendees: &[]gen.MeetingParticipantInfo{},
	}
	if in == nil {
		return out, nil
	}
	if in.Organizer != nil && !isCaller(p, in.Organizer) {
		return nil, bodyReadError("The property 'participants.organizer' cannot be set: the organizer of a new meeting is always the caller.")
	}
	if in.Attendees != nil {
		attendees := make([]gen.MeetingParticipantInfo, 0, len(*in.Attendees))
		for _, a := range *in.Attendees {
			attendees = append(attendees, participantInfo(a))
		}
		out.Attendees = &attendees
	}
	return out, nil
}

// isCaller reports whether a participant sent as organizer is the caller: the
// same user id and, when given, the same tenant and upn.
func isCaller(p *auth.Principal, o *gen.MeetingParticipantInfoInput) bool {
	if o.Identity == nil || o.Identity.User == nil || o.Identity.User.ID == nil {
		return false
	}
	u := o.Identity.User
	if !strings.EqualFold(*u.ID, p.ObjectID) {
		return false
	}
	if u.TenantID != nil && !strings.EqualFold(*u.TenantID, p.TenantID) {
		return false
	}
	if o.Identity.Application != nil || o.Identity.Device != nil {
		return false
	}
	if o.Role != nil && *o.Role != gen.OnlineMeetingRoleInputPresenter {
		return false
	}
	if o.Upn != nil && (p.UPN == nil || !strings.EqualFold(*o.Upn, *p.UPN)) {
		return false
	}
	return true
}

func participantInfo(in gen.MeetingParticipantInfoInput) gen.MeetingParticipantInfo {
	out := gen.MeetingParticipantInfo{Role: ptr(gen.OnlineMeetingRoleAttendee), Upn: in.Upn}
	setIfPresent(&out.Role, enum[gen.OnlineMeetingRole](in.Role))
	if in.Identity != nil {
		out.Identity = &gen.IdentitySet{
			Application: identity(in.Identity.Application),
			Device:      identity(in.Identity.Device),
			User:        identity(in.Identity.User),
		}
	}
	return out
}

func identity(in *gen.IdentityInput) *gen.Identity {
	if in == nil {
		return nil
	}
	return &gen.Identity{ID: in.ID, DisplayName: in.DisplayName, TenantID: in.TenantID, IdentityProvider: in.IdentityProvider}
}

func broadcastSettings(in *gen.BroadcastMeetingSettingsInput) *gen.BroadcastMeetingSettings {
	if in == nil {
		return nil
	}
	out := &gen.BroadcastMeetingSettings{
		AllowedAudience:            enum[gen.BroadcastMeetingAudience](in.AllowedAudience),
		IsAttendeeReportEnabled:    in.IsAttendeeReportEnabled,
		IsQuestionAndAnswerEnabled: in.IsQuestionAndAnswerEnabled,
		IsRecordingEnabled:         in.IsRecordingEnabled,
		IsVideoOnDemandEnabled:     in.IsVideoOnDemandEnabled,
	}
	if c := in.Captions; c != nil {
		out.Captions = &gen.BroadcastMeetingCaptionSettings{
			IsCaptionEnabled:     c.IsCaptionEnabled,
			SpokenLanguage:       c.SpokenLanguage,
			TranslationLanguages: c.TranslationLanguages,
		}
	}
	return out
}

func chatRestrictions(in *gen.ChatRestrictionsInput) *gen.ChatRestrictions {
	if in == nil {
		return nil
	}
	return &gen.ChatRestrictions{AllowTextOnly: in.AllowTextOnly}
}

func cloudVideoInteropInfo(in *gen.CloudVideoInteropInfoInput) *gen.CloudVideoInteropInfo {
	if in == nil {
		return nil
	}
	return &gen.CloudVideoInteropInfo{MoreInfoWebURL: in.MoreInfoWebURL, TenantKey: in.TenantKey, VideoTeleconferenceID: in.VideoTeleconferenceID}
}

func sensitivityLabel(in *gen.OnlineMeetingSensitivityLabelAssignmentInput) *gen.OnlineMeetingSensitivityLabelAssignment {
	if in == nil {
		return nil
	}
	return &gen.OnlineMeetingSensitivityLabelAssignment{SensitivityLabelID: in.SensitivityLabelID}
}

func watermarkProtection(in *gen.WatermarkProtectionValuesInput) *gen.WatermarkProtectionValues {
	if in == nil {
		return nil
	}
	return &gen.WatermarkProtectionValues{IsEnabledForContentSharing: in.IsEnabledForContentSharing, IsEnabledForVideo: in.IsEnabledForVideo}
}

func audioConferencing(a *AudioConferencing, conferenceID string) *gen.AudioConferencing {
	out := &gen.AudioConferencing{ConferenceID: ptr(conferenceID)}
	if a.TollNumber != "" {
		out.TollNumber = ptr(a.TollNumber)
		out.TollNumbers = &[]string{a.TollNumber}
	}
	if a.TollFreeNumber != "" {
		out.TollFreeNumber = ptr(a.TollFreeNumber)
		out.TollFreeNumbers = &[]string{a.TollFreeNumber}
	}
	if a.DialinURL != "" {
		out.DialinURL = ptr(a.DialinURL + "?id=" + conferenceID)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// enum converts an input enum (which excludes unknownFutureValue) to the
// output enum of the same Graph type; the members are the same strings.
func enum[Out ~string, In ~string](in *In) *Out {
	if in == nil {
		return nil
	}
	out := Out(*in)
	return &out
}

// setIfPresent overwrites *dst with src when the request set it (non-null).
func setIfPresent[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}
