from proto.mobility.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RideUpdateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RIDE_UPDATE_KIND_UNSPECIFIED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_STATE: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_ASSIGNED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_REASSIGNED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_ETA: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_VEHICLE_POSITION: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_ARRIVED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_ON_BOARD: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_COMPLETED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_CANCELLED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_NO_SHOW: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_LATE: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_EXPIRED: _ClassVar[RideUpdateKind]
    RIDE_UPDATE_KIND_REJECTED: _ClassVar[RideUpdateKind]
RIDE_UPDATE_KIND_UNSPECIFIED: RideUpdateKind
RIDE_UPDATE_KIND_STATE: RideUpdateKind
RIDE_UPDATE_KIND_ASSIGNED: RideUpdateKind
RIDE_UPDATE_KIND_REASSIGNED: RideUpdateKind
RIDE_UPDATE_KIND_ETA: RideUpdateKind
RIDE_UPDATE_KIND_VEHICLE_POSITION: RideUpdateKind
RIDE_UPDATE_KIND_ARRIVED: RideUpdateKind
RIDE_UPDATE_KIND_ON_BOARD: RideUpdateKind
RIDE_UPDATE_KIND_COMPLETED: RideUpdateKind
RIDE_UPDATE_KIND_CANCELLED: RideUpdateKind
RIDE_UPDATE_KIND_NO_SHOW: RideUpdateKind
RIDE_UPDATE_KIND_LATE: RideUpdateKind
RIDE_UPDATE_KIND_EXPIRED: RideUpdateKind
RIDE_UPDATE_KIND_REJECTED: RideUpdateKind

class QuoteRequest(_message.Message):
    __slots__ = ("request_id", "origin", "destination", "requested_time_s", "passengers", "rider_class", "wheelchair", "now_s", "service", "share")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_TIME_S_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    RIDER_CLASS_FIELD_NUMBER: _ClassVar[int]
    WHEELCHAIR_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    origin: _common_pb2.Place
    destination: _common_pb2.Place
    requested_time_s: int
    passengers: int
    rider_class: _common_pb2.RiderClass
    wheelchair: bool
    now_s: int
    service: str
    share: _common_pb2.Sharing
    def __init__(self, request_id: _Optional[str] = ..., origin: _Optional[_Union[_common_pb2.Place, _Mapping]] = ..., destination: _Optional[_Union[_common_pb2.Place, _Mapping]] = ..., requested_time_s: _Optional[int] = ..., passengers: _Optional[int] = ..., rider_class: _Optional[_Union[_common_pb2.RiderClass, str]] = ..., wheelchair: bool = ..., now_s: _Optional[int] = ..., service: _Optional[str] = ..., share: _Optional[_Union[_common_pb2.Sharing, str]] = ...) -> None: ...

class QuoteResponse(_message.Message):
    __slots__ = ("offer", "rejection")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    offer: _common_pb2.Offer
    rejection: _common_pb2.Rejection
    def __init__(self, offer: _Optional[_Union[_common_pb2.Offer, _Mapping]] = ..., rejection: _Optional[_Union[_common_pb2.Rejection, _Mapping]] = ...) -> None: ...

class BookRideRequest(_message.Message):
    __slots__ = ("offer_id", "idempotency_key", "now_s", "request")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    idempotency_key: str
    now_s: int
    request: QuoteRequest
    def __init__(self, offer_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., now_s: _Optional[int] = ..., request: _Optional[_Union[QuoteRequest, _Mapping]] = ...) -> None: ...

class CancelRideRequest(_message.Message):
    __slots__ = ("ride_id", "now_s", "service")
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ride_id: str
    now_s: int
    service: str
    def __init__(self, ride_id: _Optional[str] = ..., now_s: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class GetRideRequest(_message.Message):
    __slots__ = ("ride_id", "service")
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ride_id: str
    service: str
    def __init__(self, ride_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class WatchRideRequest(_message.Message):
    __slots__ = ("ride_id", "after_event_id", "service")
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ride_id: str
    after_event_id: str
    service: str
    def __init__(self, ride_id: _Optional[str] = ..., after_event_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class RideUpdate(_message.Message):
    __slots__ = ("event_id", "kind", "time_s", "ride", "vehicle_stop", "vehicle_eta_s")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    RIDE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_STOP_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ETA_S_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    kind: RideUpdateKind
    time_s: int
    ride: _common_pb2.Ride
    vehicle_stop: int
    vehicle_eta_s: int
    def __init__(self, event_id: _Optional[str] = ..., kind: _Optional[_Union[RideUpdateKind, str]] = ..., time_s: _Optional[int] = ..., ride: _Optional[_Union[_common_pb2.Ride, _Mapping]] = ..., vehicle_stop: _Optional[int] = ..., vehicle_eta_s: _Optional[int] = ...) -> None: ...
